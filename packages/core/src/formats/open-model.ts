import { TrineError, invalidArgument } from '../errors/index.js';
import type { ModelSource } from '../model/config.js';
import { type ByteSource, isByteSource, toByteSource } from './byte-source.js';
import { type OpenModelOptions, ggufModelSource } from './gguf/model.js';
import { GGUF_MAGIC } from './gguf/reader.js';

export type { OpenModelOptions } from './gguf/model.js';

async function isDirectory(path: string): Promise<boolean> {
  const fs = await import('node:fs/promises');
  try {
    return (await fs.stat(path)).isDirectory();
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new TrineError('NOT_FOUND', `model not found: ${path}`, { field: 'path', cause: e });
    throw e;
  }
}

/**
 * Open a model: a GGUF file (path, bytes or ByteSource) or a Hugging Face directory (config.json +
 * model.safetensors + tokenizer.json). Everything the graph needs is validated before this returns.
 */
export async function openModel(input: string | ByteSource | Uint8Array, options: OpenModelOptions = {}): Promise<ModelSource> {
  if (typeof input === 'string' && (await isDirectory(input))) {
    const { hfModelSource } = await import('./hf/model.js');
    return hfModelSource(input, options);
  }
  if (typeof input !== 'string' && !(input instanceof Uint8Array) && !isByteSource(input)) {
    throw invalidArgument('model', 'expected a path, a Uint8Array or a ByteSource');
  }
  const source = await toByteSource(input);
  try {
    const head = source.size >= 4 ? await source.read(0, 4) : new Uint8Array(0);
    const magic = head.length === 4 ? new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) : 0;
    if (magic !== GGUF_MAGIC) {
      throw new TrineError('INVALID_MODEL_FILE', `${source.name} is neither a GGUF file nor a Hugging Face model directory`, { field: 'magic', offset: 0 });
    }
    return await ggufModelSource(source, options);
  } catch (e) {
    if (typeof input === 'string') await source.close();
    throw e;
  }
}
