/**
 * Small random BitNet models written as GGUF by Trine's own writer (tests only): real files through the real
 * loader. Two flavours cover both engines' numerics: `bitnet-b1.58` + I2_S (per_token, relu²) and `bitnet` + TQ2_0
 * (per_block256, silu). Weight distributions follow the fixtures README §2 so attention is not uniform.
 */
import { WeightRng, tokenizerMetadata } from '../../default-model/build.js';
import { gv, writeGguf, type GgufValue, type GgufWriteTensor } from '../../formats/gguf/index.js';
import { bitnetArchMetadata } from '../../formats/gguf/model.js';
import { blockTensors } from '../../formats/model-check.js';
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
    ...bitnetArchMetadata({
      arch: a, vocab: vocab, context: s.context, hidden: s.hidden, layers: s.layers, ffn: s.ffn,
      ropeDim: s.ropeDim ?? headDim, heads: s.heads, kvHeads: s.kvHeads, rmsEps: 1e-5, ropeTheta: 500000,
    }),
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
  for (let l = 0; l < s.layers; l++) {
    for (const [short, ne] of blockTensors({ hidden: s.hidden, heads: s.heads, kvHeads: s.kvHeads, headDim, ffn: s.ffn })) {
      const name = `blk.${l}.${short}.weight`;
      if (ne.length === 1) norm(name, ne[0]!);
      else ternary(name, ne[0]!, ne[1]!);
    }
  }
  return writeGguf(metadata, tensors);
}
