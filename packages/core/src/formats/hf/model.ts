import { TrineError } from '../../errors/index.js';
import type { ModelSource } from '../../model/config.js';
import type { OpenModelOptions } from '../gguf/model.js';

export async function hfModelSource(dir: string, _options: OpenModelOptions = {}): Promise<ModelSource> {
  throw new TrineError('UNSUPPORTED', `Hugging Face directories are not supported yet (${dir})`, { field: 'path' });
}
