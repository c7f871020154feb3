/** The model shapes the bench generates (core's MODEL_SHAPES) and what a decoded token reads at each. */
import { MODEL_SHAPES, TrineError, type ModelShape } from '@trine/core';

export type { ModelShape };

export type WeightFormat = 'i2_s' | 'tq2_0';

export function shapeByName(name: string): ModelShape {
  const s = MODEL_SHAPES[name];
  if (!s) throw new TrineError('INVALID_ARGUMENT', `unknown shape '${name}' (known: ${Object.keys(MODEL_SHAPES).join(', ')})`, { field: 'shapes' });
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
