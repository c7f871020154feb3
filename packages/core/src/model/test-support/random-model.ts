/**
 * Small random BitNet models written as GGUF by Trine's own writer (tests only): real files through the real
 * loader. Two flavours cover both engines' numerics: `bitnet-b1.58` + I2_S (per_token, relu²) and `bitnet` + TQ2_0
 * (per_block256, silu). Weight distributions follow the fixtures README §2 so attention is not uniform.
 */
import { WeightRng, tokenizerMetadata } from '../../default-model/build.js';
import { gv, writeGguf, type GgufValue, type GgufWriteTensor } from '../../formats/gguf/index.js';
import { f32ToF16, roundF16 } from '../../quant/f16.js';
import { encodeTernary, ternaryGgufBytes } from '../../quant/ternary.js';
import { BYTE_TO_CHAR } from '../../tokenizer/byte-level.js';
import type { TokenizerSpec } from '../../tokenizer/spec.js';

export interface RandomModelShape {
  arch: 'bitnet-b1.58' | 'bitnet';
  ternary: 'I2_S' | 'TQ2_0';
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  context: number;
  ropeDim?: number;
  seed: number;
}

export const SMALL_I2S: RandomModelShape = { arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, context: 64, seed: 11 };
export const SMALL_TQ2: RandomModelShape = { arch: 'bitnet', ternary: 'TQ2_0', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, context: 64, seed: 12 };

/** 256 byte tokens plus BOS/EOS: vocab 258. */
function byteTokenizer(): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR, '<|begin_of_text|>', '<|end_of_text|>'];
  const tokenTypes = Int32Array.from(tokens, (_, i) => (i < 256 ? 1 : 3));
  return { model: 'gpt2', pre: 'llama-bpe', tokens, tokenTypes, merges: [], bosId: 256, eosId: 257, addBos: true, addEos: false };
}

export function randomModelBytes(s: RandomModelShape): Uint8Array {
  const tokenizer = byteTokenizer();
  const vocab = tokenizer.tokens.length;
  const headDim = s.hidden / s.heads;
  const rng = new WeightRng(s.seed);
  const a = s.arch;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(`random-${a}-${s.ternary}`)],
    [`${a}.vocab_size`, gv.u32(vocab)],
    [`${a}.context_length`, gv.u32(s.context)],
    [`${a}.embedding_length`, gv.u32(s.hidden)],
    [`${a}.block_count`, gv.u32(s.layers)],
    [`${a}.feed_forward_length`, gv.u32(s.ffn)],
    [`${a}.rope.dimension_count`, gv.u32(s.ropeDim ?? headDim)],
    [`${a}.attention.head_count`, gv.u32(s.heads)],
    [`${a}.attention.head_count_kv`, gv.u32(s.kvHeads)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(1e-5)],
    [`${a}.rope.freq_base`, gv.f32(500000)],
    ...tokenizerMetadata(tokenizer),
  ];
  const tensors: GgufWriteTensor[] = [];
  const norm = (name: string, n: number) => {
    const w = Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal());
    tensors.push({ name, ne: [n], type: 'F32', data: new Uint8Array(w.buffer) });
  };
  const ternary = (name: string, inDim: number, outDim: number) => {
    const scale = roundF16(0.08 + 0.12 * rng.uniform());
    const codes = new Int8Array(inDim * outDim);
    rng.fillTernary(codes);
    const scales = s.ternary === 'I2_S' ? Float32Array.of(scale) : new Float32Array((inDim * outDim) / 256).fill(scale);
    const t = encodeTernary(codes, outDim, inDim, s.ternary === 'I2_S' ? 'i2_s' : 'tq2_0', scales, name);
    tensors.push({ name, ne: [inDim, outDim], type: s.ternary, data: ternaryGgufBytes(t) });
  };
  const embd = new Uint16Array(vocab * s.hidden);
  for (let i = 0; i < embd.length; i++) embd[i] = f32ToF16(0.15 * rng.normal());
  tensors.push({ name: 'token_embd.weight', ne: [s.hidden, vocab], type: 'F16', data: new Uint8Array(embd.buffer) });
  norm('output_norm.weight', s.hidden);
  const kvDim = s.kvHeads * headDim;
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}`;
    norm(`${b}.attn_norm.weight`, s.hidden);
    ternary(`${b}.attn_q.weight`, s.hidden, s.hidden);
    ternary(`${b}.attn_k.weight`, s.hidden, kvDim);
    ternary(`${b}.attn_v.weight`, s.hidden, kvDim);
    ternary(`${b}.attn_output.weight`, s.hidden, s.hidden);
    norm(`${b}.attn_sub_norm.weight`, s.hidden);
    norm(`${b}.ffn_norm.weight`, s.hidden);
    ternary(`${b}.ffn_gate.weight`, s.hidden, s.ffn);
    ternary(`${b}.ffn_up.weight`, s.hidden, s.ffn);
    ternary(`${b}.ffn_down.weight`, s.ffn, s.hidden);
    norm(`${b}.ffn_sub_norm.weight`, s.ffn);
  }
  return writeGguf(metadata, tensors);
}
