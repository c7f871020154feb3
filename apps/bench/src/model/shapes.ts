/**
 * Model shapes the bench generates (random ternary weights, real graph). All use bitnet.cpp's `bitnet-b1.58`
 * graph (2B4T: relu² gated FFN, sub-norms, tied F16 embeddings); the 1bitLLM-class shapes run it with MHA.
 */
import { TrineError } from '@trine/core';

export interface ModelShape {
  readonly name: string;
  readonly description: string;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly context: number;
  /** Why the shape departs from the model it is named after, if it does. */
  readonly note?: string;
}

export const SHAPES: Readonly<Record<string, ModelShape>> = {
  tiny: { name: 'tiny', description: 'test shape (2B4T graph at toy size)', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, vocab: 960, context: 512 },
  '700m': { name: '700m', description: '1bitLLM bitnet_b1_58-large class (MHA)', hidden: 1536, layers: 24, heads: 16, kvHeads: 16, ffn: 4096, vocab: 32002, context: 2048 },
  '2b4t': { name: '2b4t', description: 'BitNet b1.58 2B4T', hidden: 2560, layers: 30, heads: 20, kvHeads: 5, ffn: 6912, vocab: 128256, context: 4096 },
  '3b': {
    name: '3b', description: '1bitLLM bitnet_b1_58-3B class (MHA)', hidden: 3200, layers: 26, heads: 32, kvHeads: 32, ffn: 8704, vocab: 32002, context: 2048,
    note: 'FFN 8704 instead of 8640: I2_S and TQ2_0 rows must be a multiple of 128 / 256 weights',
  },
  '8b': { name: '8b', description: 'Llama-3-8B class (GQA)', hidden: 4096, layers: 32, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256, context: 8192 },
};

export type WeightFormat = 'i2_s' | 'tq2_0';

export function shapeByName(name: string): ModelShape {
  const s = SHAPES[name];
  if (!s) throw new TrineError('INVALID_ARGUMENT', `unknown shape '${name}' (known: ${Object.keys(SHAPES).join(', ')})`, { field: 'shapes' });
  return s;
}

/** The ternary projections of one layer: [name, rows (out), cols (in)]. */
export function layerMatrices(s: ModelShape): [string, number, number][] {
  const headDim = s.hidden / s.heads;
  const kv = s.kvHeads * headDim;
  return [
    ['attn_q', s.hidden, s.hidden],
    ['attn_k', kv, s.hidden],
    ['attn_v', kv, s.hidden],
    ['attn_output', s.hidden, s.hidden],
    ['ffn_gate', s.ffn, s.hidden],
    ['ffn_up', s.ffn, s.hidden],
    ['ffn_down', s.hidden, s.ffn],
  ];
}

/** Bytes read per decoded token: every ternary matrix (2 bits a weight) plus the LM head (bytes per element). */
export function bytesPerToken(s: ModelShape, lmHeadBytesPerWeight = 2): number {
  const ternary = layerMatrices(s).reduce((a, [, r, c]) => a + (r * c) / 4, 0) * s.layers;
  return ternary + s.vocab * s.hidden * lmHeadBytesPerWeight;
}
