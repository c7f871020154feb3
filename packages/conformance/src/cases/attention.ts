import type { KvCacheSpec } from '@trine/core';
import { opCase, nmseAtMost } from '../harness.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';
import { attentionQuery, fillSlot, storeAll, type StoreCall } from './kv-common.js';

interface AttentionShape {
  label: string;
  dtype: KvCacheSpec['dtype'];
  H: number;
  Hkv: number;
  Dh: number;
  slots: number;
  context: number;
  layers: number;
  layer: number;
  fills: StoreCall[];
  /** Tokens of the attention batch: (slot, position). */
  tokens: [number, number][];
  roundProbsF16: boolean;
  kScale?: number;
  seed: number;
}

function attentionCase(s: AttentionShape): ConformanceCase {
  const maxPos = Math.max(...s.tokens.map((t) => t[1]));
  return opCase({
    name: `attention/${s.dtype}/gqa${s.H / s.Hkv}/${s.label}/n${s.tokens.length}.H${s.H}.Hkv${s.Hkv}.Dh${s.Dh}.pos${maxPos}`,
    op: 'attention',
    requires: [
      { op: 'kvStore', dtype: s.dtype, headDim: s.Dh },
      { op: 'attention', dtype: s.dtype, headDim: s.Dh },
    ],
    description:
      `${s.tokens.length} token(s) at (slot, pos) ${s.tokens.map((t) => `(${t[0]},${t[1]})`).join(' ')}, ` +
      `roundProbsF16 ${s.roundProbsF16}${s.kScale ? `, K scaled ×${s.kScale}` : ''}`,
    size: maxPos * s.H * s.Dh * s.tokens.length > 5_000_000 ? 'large' : 'small',
    setup(u) {
      const rng = new Prng(s.seed);
      const spec: KvCacheSpec = { layers: s.layers, slots: s.slots, context: s.context, kvHeads: s.Hkv, headDim: s.Dh, dtype: s.dtype };
      const cache = storeAll(u, rng, spec, s.fills, s.kScale);
      const p = { heads: s.H, kvHeads: s.Hkv, headDim: s.Dh, scale: 1 / Math.sqrt(s.Dh), roundProbsF16: s.roundProbsF16 };
      const { q, out, batch } = attentionQuery(u, rng, p, s.tokens);
      return {
        run: () => u.b.attention(out, q, cache, s.layer, batch, p),
        read: [{ name: 'out', tensor: out, check: nmseAtMost(s.dtype === 'f16' ? TOL.attentionF16 : TOL.attentionF32) }],
      };
    },
  });
}

export const attentionCases: ConformanceCase[] = [
  // Prefill of 7 tokens; the slot also holds stale positions 7..12 that causal attention must not read.
  attentionCase({
    label: 'prefill', dtype: 'f32', H: 4, Hkv: 4, Dh: 64, slots: 1, context: 32, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 12)], tokens: [0, 1, 2, 3, 4, 5, 6].map((p) => [0, p]), roundProbsF16: false, seed: 701,
  }),
  attentionCase({
    label: 'prefill', dtype: 'f16', H: 4, Hkv: 2, Dh: 64, slots: 2, context: 32, layers: 2, layer: 1,
    fills: [fillSlot(1, 1, 0, 12), fillSlot(0, 1, 0, 12), fillSlot(1, 0, 0, 12)],
    tokens: [0, 1, 2, 3, 4, 5, 6].map((p) => [1, p]), roundProbsF16: false, seed: 702,
  }),
  // Long contexts: one decode token after 1100 / 1501 positions.
  attentionCase({
    label: 'long', dtype: 'f16', H: 8, Hkv: 4, Dh: 64, slots: 1, context: 1200, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 1099)], tokens: [[0, 1099]], roundProbsF16: true, seed: 703,
  }),
  attentionCase({
    label: 'long', dtype: 'f32', H: 20, Hkv: 5, Dh: 128, slots: 1, context: 1536, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 1500)], tokens: [[0, 1500]], roundProbsF16: false, seed: 704,
  }),
  // Batched decode: four slots at different positions, one token each.
  attentionCase({
    label: 'batched', dtype: 'f16', H: 8, Hkv: 2, Dh: 64, slots: 4, context: 800, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 3), fillSlot(0, 1, 0, 700), fillSlot(0, 2, 0, 0), fillSlot(0, 3, 0, 64)],
    tokens: [[0, 3], [1, 700], [2, 0], [3, 64]], roundProbsF16: true, seed: 705,
  }),
  attentionCase({
    label: 'batched', dtype: 'f32', H: 8, Hkv: 2, Dh: 64, slots: 3, context: 300, layers: 1, layer: 0,
    fills: [fillSlot(0, 2, 0, 299), fillSlot(0, 0, 0, 10), fillSlot(0, 1, 0, 150)],
    tokens: [[2, 299], [0, 10], [1, 150]], roundProbsF16: false, seed: 706,
  }),
  // Scores in the hundreds: softmax must subtract the max.
  attentionCase({
    label: 'large-scores', dtype: 'f32', H: 4, Hkv: 2, Dh: 32, slots: 1, context: 64, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 40)], tokens: [[0, 40], [0, 20]], roundProbsF16: false, kScale: 40, seed: 707,
  }),
  // Heads wider than 256 (no BitNet checkpoint has them): a backend may declare a largest headDim.
  attentionCase({
    label: 'wide', dtype: 'f16', H: 2, Hkv: 1, Dh: 320, slots: 1, context: 16, layers: 1, layer: 0,
    fills: [fillSlot(0, 0, 0, 9)], tokens: [[0, 9], [0, 4]], roundProbsF16: true, seed: 708,
  }),
];
