import { TrineError, invalidModelFile } from '../errors/index.js';
import type { BitNetArch, BitNetConfig } from '../model/config.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';

/** Caps on hyper-parameters (reliability.md case 13); far above any BitNet model. */
export const MODEL_LIMITS = {
  maxLayers: 512,
  maxHidden: 1 << 16,
  maxHeads: 1024,
  maxFfn: 1 << 20,
  maxVocab: 1 << 22,
  maxContext: 1 << 24,
} as const;

export const BITNET_ARCHS: readonly BitNetArch[] = ['bitnet-b1.58', 'bitnet-25', 'bitnet'];

/** A tensor as a loader sees it before reading data: GGUF name, storage type, ggml-order shape (ne[0] = in). */
export interface TensorEntry {
  readonly name: string;
  readonly type: string;
  readonly ne: readonly number[];
  readonly bytes: number;
}

/** FLOAT_MASTER: float projections of an HF checkpoint (the -bf16 release), made ternary on load (hf/packing.ts). */
export const TERNARY_TYPES = new Set(['I2_S', 'TQ1_0', 'TQ2_0', 'U8_PACKED', 'FLOAT_MASTER']);
const FLOAT_TYPES = new Set(['F32', 'F16', 'BF16']);

/** The dimensions a block's layout depends on. */
export type BlockShape = Pick<BitNetConfig, 'hidden' | 'heads' | 'kvHeads' | 'headDim' | 'ffn'>;

/**
 * One block's tensors in the order bitnet.cpp's converter writes them (and Trine's random-weight generators draw
 * them, so a generator's output depends on this order): [GGUF short name, ne]. Norms have ne = [length],
 * projections ne = [in, out].
 */
export function blockTensors(c: BlockShape): [string, readonly number[]][] {
  const q = c.heads * c.headDim;
  const kv = c.kvHeads * c.headDim;
  return [
    ['attn_norm', [c.hidden]],
    ['attn_q', [c.hidden, q]],
    ['attn_k', [c.hidden, kv]],
    ['attn_v', [c.hidden, kv]],
    ['attn_output', [q, c.hidden]],
    ['attn_sub_norm', [q]],
    ['ffn_norm', [c.hidden]],
    ['ffn_gate', [c.hidden, c.ffn]],
    ['ffn_up', [c.hidden, c.ffn]],
    ['ffn_down', [c.ffn, c.hidden]],
    ['ffn_sub_norm', [c.ffn]],
  ];
}

/** The projections of one block: [GGUF short name, ne[0] (in), ne[1] (out)]. */
export function blockProjections(c: BlockShape): [string, number, number][] {
  return blockTensors(c).flatMap(([n, ne]) => (ne.length === 2 ? [[n, ne[0]!, ne[1]!] as [string, number, number]] : []));
}

/** The norms of one block: [GGUF short name, length]. */
export function blockNorms(c: BlockShape): [string, number][] {
  return blockTensors(c).flatMap(([n, ne]) => (ne.length === 1 ? [[n, ne[0]!] as [string, number]] : []));
}

export function checkRange(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw invalidModelFile(field, 0, `${v} is outside ${min}..${max}`);
  return v;
}

/** Cross-checks of a config (hidden divisible by heads, GQA grouping, RoPE width, float ranges). */
export function checkConfig(c: BitNetConfig, prefix: string): void {
  checkRange(`${prefix}block_count`, c.layers, 1, MODEL_LIMITS.maxLayers);
  checkRange(`${prefix}embedding_length`, c.hidden, 1, MODEL_LIMITS.maxHidden);
  checkRange(`${prefix}attention.head_count`, c.heads, 1, MODEL_LIMITS.maxHeads);
  checkRange(`${prefix}attention.head_count_kv`, c.kvHeads, 1, c.heads);
  checkRange(`${prefix}feed_forward_length`, c.ffn, 1, MODEL_LIMITS.maxFfn);
  checkRange(`${prefix}vocab_size`, c.vocab, 1, MODEL_LIMITS.maxVocab);
  checkRange(`${prefix}context_length`, c.context, 1, MODEL_LIMITS.maxContext);
  if (c.hidden % c.heads !== 0) throw invalidModelFile(`${prefix}attention.head_count`, 0, `hidden ${c.hidden} is not divisible by ${c.heads} heads`);
  if (c.heads % c.kvHeads !== 0) throw invalidModelFile(`${prefix}attention.head_count_kv`, 0, `${c.heads} heads are not a multiple of ${c.kvHeads} KV heads`);
  if (c.ropeDim < 2 || c.ropeDim > c.headDim || c.ropeDim % 2 !== 0) {
    throw invalidModelFile(`${prefix}rope.dimension_count`, 0, `${c.ropeDim} must be even and in 2..${c.headDim}`);
  }
  if (!(c.ropeTheta > 0) || !Number.isFinite(c.ropeTheta)) throw invalidModelFile(`${prefix}rope.freq_base`, 0, `${c.ropeTheta} must be positive`);
  if (!(c.rmsEps > 0) || !(c.rmsEps < 1)) throw invalidModelFile(`${prefix}attention.layer_norm_rms_epsilon`, 0, `${c.rmsEps} must be in (0, 1)`);
}

/**
 * Every tensor the graph needs, with its shape and an allowed type, before anything is built (case 40).
 * Returns the ternary storage type the projections share.
 */
export function checkTensors(c: BitNetConfig, tensors: ReadonlyMap<string, TensorEntry>): string {
  const need = (name: string, ne: number[], types: Set<string>, what: string): TensorEntry => {
    const t = tensors.get(name);
    if (!t) throw invalidModelFile(name, 0, `required tensor is missing`);
    const same = t.ne.length === ne.length && t.ne.every((d, i) => d === ne[i]);
    if (!same) throw invalidModelFile(name, 0, `shape [${t.ne.join(', ')}], expected [${ne.join(', ')}]`);
    if (!types.has(t.type)) {
      throw new TrineError('UNSUPPORTED', `${name}: ${what} stored as ${t.type} is not supported (${[...types].join(', ')})`, { field: name });
    }
    return t;
  };
  need('token_embd.weight', [c.hidden, c.vocab], FLOAT_TYPES, 'the embedding');
  need('output_norm.weight', [c.hidden], FLOAT_TYPES, 'a norm');
  if (tensors.has('output.weight')) need('output.weight', [c.hidden, c.vocab], FLOAT_TYPES, 'the output matrix');
  let ternary: string | undefined;
  for (let l = 0; l < c.layers; l++) {
    for (const [n, len] of blockNorms(c)) need(`blk.${l}.${n}.weight`, [len], FLOAT_TYPES, 'a norm');
    for (const [n, inF, outF] of blockProjections(c)) {
      const t = need(`blk.${l}.${n}.weight`, [inF, outF], TERNARY_TYPES, 'a projection');
      if (ternary === undefined) ternary = t.type;
      else if (t.type !== ternary) {
        throw new TrineError('UNSUPPORTED', `blk.${l}.${n}.weight is ${t.type} but other projections are ${ternary}`, { field: `blk.${l}.${n}.weight` });
      }
      const scale = tensors.get(`blk.${l}.${n}.scale`);
      if (scale) {
        if (c.arch !== 'bitnet') throw invalidModelFile(scale.name, 0, `per-tensor .scale tensors belong to arch bitnet, not ${c.arch}`);
        need(scale.name, [1], new Set(['F32']), 'a projection scale');
      }
    }
  }
  if ((ternary === 'TQ1_0' || ternary === 'TQ2_0') && (c.hidden % 256 !== 0 || c.ffn % 256 !== 0)) {
    throw invalidModelFile('blk.0.attn_q.weight', 0, `${ternary} needs hidden and ffn to be multiples of 256`);
  }
  return ternary ?? 'I2_S';
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/** Tokenizer arrays agree with each other and with the model (cases 12–14). */
export function checkTokenizer(spec: TokenizerSpec, vocab: number, field = 'tokenizer.ggml'): void {
  const n = spec.tokens.length;
  if (n !== vocab) throw invalidModelFile(`${field}.tokens`, 0, `${n} tokens, but the model's vocab is ${vocab}`);
  if (spec.tokenTypes && spec.tokenTypes.length !== n) throw invalidModelFile(`${field}.token_type`, 0, `${spec.tokenTypes.length} entries for ${n} tokens`);
  if (spec.scores && spec.scores.length !== n) throw invalidModelFile(`${field}.scores`, 0, `${spec.scores.length} entries for ${n} tokens`);
  if (spec.scores) {
    for (let i = 0; i < n; i++) if (Number.isNaN(spec.scores[i]!)) throw invalidModelFile(`${field}.scores[${i}]`, 0, 'NaN score');
  }
  if (spec.tokenTypes) {
    for (let i = 0; i < n; i++) {
      const t = spec.tokenTypes[i]!;
      if (t < 0 || t > 6) throw invalidModelFile(`${field}.token_type[${i}]`, 0, `token type ${t} is not 0..6`);
      // Byte tokens index a 256-entry table: `<0x-1>` or `<0xZZ>` must not reach it (llama.cpp PR #25969).
      if (t === 6 && !BYTE_TOKEN.test(spec.tokens[i]!)) throw invalidModelFile(`${field}.tokens[${i}]`, 0, `byte token ${JSON.stringify(spec.tokens[i])} is not <0xHH>`);
    }
  }
  if (spec.merges) {
    for (let i = 0; i < spec.merges.length; i++) {
      const m = spec.merges[i]!;
      const sp = m.indexOf(' ', 1);
      if (sp <= 0 || sp === m.length - 1) throw invalidModelFile(`${field}.merges[${i}]`, 0, `merge ${JSON.stringify(m)} is not "left right"`);
    }
  }
  if (n === 0) throw invalidModelFile(`${field}.tokens`, 0, 'empty vocabulary');
}
