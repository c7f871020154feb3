import type { GgufValue } from '../formats/gguf/types.js';
import { gv } from '../formats/gguf/writer.js';
import type { TokenizerSpec } from './spec.js';

/** GGUF `tokenizer.*` keys for a spec (the inverse of `tokenizerSpecFromGguf`). */
export function tokenizerMetadata(spec: TokenizerSpec): [string, GgufValue][] {
  const m: [string, GgufValue][] = [['tokenizer.ggml.model', gv.str(spec.model)]];
  if (spec.pre !== undefined) m.push(['tokenizer.ggml.pre', gv.str(spec.pre)]);
  m.push(['tokenizer.ggml.tokens', gv.strs([...spec.tokens])]);
  if (spec.tokenTypes) m.push(['tokenizer.ggml.token_type', gv.i32s(spec.tokenTypes)]);
  if (spec.scores) m.push(['tokenizer.ggml.scores', gv.f32s(spec.scores)]);
  if (spec.merges) m.push(['tokenizer.ggml.merges', gv.strs([...spec.merges])]);
  const ids: [string, number | undefined][] = [
    ['tokenizer.ggml.bos_token_id', spec.bosId],
    ['tokenizer.ggml.eos_token_id', spec.eosId],
    ['tokenizer.ggml.eot_token_id', spec.eotId],
    ['tokenizer.ggml.unknown_token_id', spec.unkId],
    ['tokenizer.ggml.padding_token_id', spec.padId],
  ];
  for (const [key, id] of ids) if (id !== undefined) m.push([key, gv.u32(id)]);
  m.push(['tokenizer.ggml.add_bos_token', gv.bool(spec.addBos)], ['tokenizer.ggml.add_eos_token', gv.bool(spec.addEos)]);
  if (spec.addSpacePrefix !== undefined) m.push(['tokenizer.ggml.add_space_prefix', gv.bool(spec.addSpacePrefix)]);
  if (spec.chatTemplate !== undefined) m.push(['tokenizer.chat_template', gv.str(spec.chatTemplate)]);
  return m;
}
