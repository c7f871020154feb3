import { invalidModelFile } from '../errors/index.js';
import { metaBool, metaInt, metaString, metaStringArray, metaTypedArray, type Metadata } from '../formats/gguf/meta.js';
import type { TokenizerSpec } from './spec.js';

const LLAMA3_PRE = new Set(['llama-bpe', 'llama3', 'llama-v3']);

/** The `tokenizer.*` keys of a GGUF file as a TokenizerSpec (llama.cpp's defaults where a key is absent). */
export function tokenizerSpecFromGguf(meta: Metadata): TokenizerSpec {
  const model = metaString(meta, 'tokenizer.ggml.model');
  if (model === undefined) throw invalidModelFile('tokenizer.ggml.model', 0, 'required key is missing');
  if (model !== 'gpt2' && model !== 'llama') {
    throw invalidModelFile('tokenizer.ggml.model', 0, `tokenizer "${model}" is not supported (gpt2, llama)`);
  }
  const tokens = metaStringArray(meta, 'tokenizer.ggml.tokens');
  if (tokens === undefined) throw invalidModelFile('tokenizer.ggml.tokens', 0, 'required key is missing');
  const id = (key: string) => metaInt(meta, key, { min: 0, max: tokens.length - 1 });
  const pre = metaString(meta, 'tokenizer.ggml.pre');
  const eom = id('tokenizer.ggml.eom_token_id');
  const spec: TokenizerSpec = {
    model,
    pre,
    tokens,
    tokenTypes: metaTypedArray<Int32Array>(meta, 'tokenizer.ggml.token_type', 'INT32'),
    scores: metaTypedArray<Float32Array>(meta, 'tokenizer.ggml.scores', 'FLOAT32'),
    merges: metaStringArray(meta, 'tokenizer.ggml.merges'),
    bosId: id('tokenizer.ggml.bos_token_id'),
    eosId: id('tokenizer.ggml.eos_token_id'),
    eotId: id('tokenizer.ggml.eot_token_id'),
    unkId: id('tokenizer.ggml.unknown_token_id'),
    padId: id('tokenizer.ggml.padding_token_id'),
    // llama.cpp's defaults: SentencePiece and LLaMA-3 vocabularies add BOS unless the key says otherwise.
    addBos: metaBool(meta, 'tokenizer.ggml.add_bos_token') ?? (model === 'llama' || LLAMA3_PRE.has(pre ?? '')),
    addEos: metaBool(meta, 'tokenizer.ggml.add_eos_token') ?? false,
    addSpacePrefix: metaBool(meta, 'tokenizer.ggml.add_space_prefix'),
    eogIds: eom === undefined ? undefined : [eom],
    chatTemplate: metaString(meta, 'tokenizer.chat_template'),
  };
  return spec;
}
