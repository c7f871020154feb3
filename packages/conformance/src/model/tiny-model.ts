import {
  bitnetArchMetadata,
  blockTensors,
  encodeTernary,
  f32ToF16,
  roundF16,
  gv,
  ternaryGgufBytes,
  writeGguf,
  type BitNetArch,
  type GgufValue,
  type GgufWriteTensor,
} from '@trine/core';
import { Prng } from '../prng.js';

/** A small BitNet model with random weights, as GGUF bytes written by Trine's own writer (whole-model cases). */
export interface TinyModelSpec {
  arch: BitNetArch;
  ternary: 'I2_S' | 'TQ2_0' | 'TQ1_0';
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  context: number;
  seed: number;
}

const FORMAT = { I2_S: 'i2_s', TQ2_0: 'tq2_0', TQ1_0: 'tq1_0' } as const;

/**
 * Weights drawn like the shared fixtures' (README §2): F16 embeddings N(0, 0.15), norms 1 + 0.1·N(0, 1), ternary
 * codes uniform with scales in [0.08, 0.20] rounded to F16, wide enough that attention is not uniform and greedy
 * decoding does not collapse into one repeated token.
 */
export function buildTinyModel(s: TinyModelSpec): Uint8Array {
  const rng = new Prng(s.seed);
  const a = s.arch;
  const headDim = s.hidden / s.heads;
  const tokens = Array.from({ length: s.vocab }, (_, i) => `t${i}`);
  const types = new Int32Array(s.vocab).fill(1);
  types[s.vocab - 1] = 3; // BOS is a control token
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(`conformance-${a}-${s.ternary}`)],
    ...bitnetArchMetadata({
      arch: a, vocab: s.vocab, context: s.context, hidden: s.hidden, layers: s.layers, ffn: s.ffn,
      ropeDim: headDim, heads: s.heads, kvHeads: s.kvHeads, rmsEps: 1e-5, ropeTheta: 500000,
    }),
    ['tokenizer.ggml.model', gv.str('gpt2')],
    ['tokenizer.ggml.pre', gv.str('llama-bpe')],
    ['tokenizer.ggml.tokens', gv.strs(tokens)],
    ['tokenizer.ggml.token_type', gv.i32s(types)],
    ['tokenizer.ggml.merges', gv.strs([])],
    ['tokenizer.ggml.bos_token_id', gv.u32(s.vocab - 1)],
    ['tokenizer.ggml.eos_token_id', gv.u32(s.vocab - 2)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
  ];
  const tensors: GgufWriteTensor[] = [];
  const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const norm = (name: string, n: number) => {
    const w = Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal());
    tensors.push({ name, ne: [n], type: 'F32', data: f32Bytes(w) });
  };
  const f16Scale = () => roundF16(rng.uniform(0.08, 0.2));
  const proj = (name: string, inDim: number, outDim: number) => {
    const codes = new Int8Array(inDim * outDim);
    for (let i = 0; i < codes.length; i++) codes[i] = rng.int(-1, 1);
    const scales = Float32Array.from({ length: s.ternary === 'I2_S' ? 1 : codes.length / 256 }, f16Scale);
    const t = encodeTernary(codes, outDim, inDim, FORMAT[s.ternary], scales, name);
    tensors.push({ name, ne: [inDim, outDim], type: s.ternary, data: ternaryGgufBytes(t) });
  };

  const embd = new Uint16Array(s.vocab * s.hidden);
  for (let i = 0; i < embd.length; i++) embd[i] = f32ToF16(0.15 * rng.normal());
  tensors.push({ name: 'token_embd.weight', ne: [s.hidden, s.vocab], type: 'F16', data: new Uint8Array(embd.buffer) });
  norm('output_norm.weight', s.hidden);
  for (let l = 0; l < s.layers; l++) {
    for (const [short, ne] of blockTensors({ hidden: s.hidden, heads: s.heads, kvHeads: s.kvHeads, headDim, ffn: s.ffn })) {
      const name = `blk.${l}.${short}.weight`;
      if (ne.length === 1) norm(name, ne[0]!);
      else proj(name, ne[0]!, ne[1]!);
    }
  }
  return writeGguf(metadata, tensors);
}
