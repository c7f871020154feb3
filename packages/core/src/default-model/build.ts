/**
 * The embedded default model: the real BitNet b1.58 2B4T architecture (arch `bitnet-b1.58`: relu² gated FFN, GQA,
 * attention and FFN sub-norms, I2_S ternary projections, tied F16 embeddings) at a toy size, with weights drawn
 * from a seeded PRNG. Its weights are RANDOM: it runs every kernel the real model runs, and its text is gibberish.
 *
 * Built by Trine's own GGUF writer, so loading it exercises the same reader and loader as a real file.
 * Generation uses only integer arithmetic and correctly rounded float operations, so the bytes are the same everywhere.
 */
import type { GgufValue, GgufWriteTensor } from '../formats/gguf/index.js';
import { gv, writeGguf } from '../formats/gguf/index.js';
import { bitnetArchMetadata } from '../formats/gguf/model.js';
import { blockTensors } from '../formats/model-check.js';
import { SplitMix64 } from '../generate/rng.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';
import { f32ToF16, roundF16 } from '../quant/f16.js';
import { encodeI2S } from '../quant/i2s.js';

/** Shape of the default model (2B4T's structure: head dim 64, 2 query heads per KV head). */
export const DEFAULT_MODEL_SHAPE = {
  arch: 'bitnet-b1.58',
  hidden: 256,
  layers: 4,
  heads: 4,
  kvHeads: 2,
  ffn: 768,
  context: 512,
  ropeTheta: 500000,
  rmsEps: 1e-5,
} as const;

/** Bump when the generator's output changes, so caches keyed on it are rebuilt. */
export const DEFAULT_MODEL_VERSION = 1;
export const DEFAULT_MODEL_SEED = 0x7472696e65; // "trine"
export const DEFAULT_MODEL_NAME = 'trine-default-random (random weights: output is gibberish)';

/**
 * xoshiro128** (Blackman & Vigna) seeded by SplitMix64: 32-bit integer math only (Math.imul, shifts), so every
 * platform draws the same weights; fast enough for the million-odd draws a model needs.
 */
export class WeightRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | bigint) {
    const sm = new SplitMix64(seed);
    const a = sm.nextU64();
    const b = sm.nextU64();
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) (exact: a 32-bit integer over 2³²). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Approximately N(0, 1): Irwin-Hall sum of 4 uniforms, centred and scaled — no Math.log/cos, so exact everywhere. */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * SQRT3;
  }

  /** Uniform ternary codes {-1, 0, +1}: 2-bit fields of 32-bit draws, rejecting the value 3. */
  fillTernary(out: Int8Array): void {
    let i = 0;
    while (i < out.length) {
      let x = this.nextU32();
      for (let f = 0; f < 16 && i < out.length; f++, x >>>= 2) {
        const v = x & 3;
        if (v !== 3) out[i++] = v - 1;
      }
    }
  }
}

const SQRT3 = Math.sqrt(3);

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** GGUF `tokenizer.*` keys for a spec (the inverse of the reader's mapping). */
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

/** Metadata and tensors of the default model, in bitnet.cpp's tensor order. */
export function defaultModelContents(tokenizer: TokenizerSpec): { metadata: [string, GgufValue][]; tensors: GgufWriteTensor[] } {
  const s = DEFAULT_MODEL_SHAPE;
  const vocab = tokenizer.tokens.length;
  const headDim = s.hidden / s.heads;
  const rng = new WeightRng(DEFAULT_MODEL_SEED);
  const a = s.arch;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(a)],
    ['general.name', gv.str(DEFAULT_MODEL_NAME)],
    ['general.description', gv.str('Trine embedded default model: the BitNet b1.58 2B4T architecture at toy size with random weights.')],
    ...bitnetArchMetadata({
      arch: a, vocab, context: s.context, hidden: s.hidden, layers: s.layers, ffn: s.ffn,
      ropeDim: headDim, heads: s.heads, kvHeads: s.kvHeads, rmsEps: s.rmsEps, ropeTheta: s.ropeTheta,
    }),
    ['general.file_type', gv.u32(40)], // LLAMA_FTYPE_MOSTLY_I2_S
    ...tokenizerMetadata(tokenizer),
  ];

  const tensors: GgufWriteTensor[] = [];
  const norm = (name: string, n: number): void => {
    const w = Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal());
    tensors.push({ name, ne: [n], type: 'F32', data: f32Bytes(w) });
  };
  // ne = [in, out]; codes are row-major [out, in]. Scales as in the fixtures: wide enough that attention is not
  // uniform and generation does not collapse into one repeated token.
  const ternary = (name: string, inDim: number, outDim: number): void => {
    const scale = roundF16(0.08 + 0.12 * rng.uniform());
    const codes = new Int8Array(inDim * outDim);
    rng.fillTernary(codes);
    tensors.push({ name, ne: [inDim, outDim], type: 'I2_S', data: encodeI2S(codes, scale) });
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
  return { metadata, tensors };
}

/** The default model as GGUF bytes, in memory (browsers, tests). */
export function buildDefaultModelBytes(tokenizer: TokenizerSpec): Uint8Array {
  const { metadata, tensors } = defaultModelContents(tokenizer);
  return writeGguf(metadata, tensors);
}
