import type { KvCacheSpec } from '@trine/core';
import { opCase, nmseAtMost } from '../harness.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';
import { attentionQuery, storeAll, type StoreCall } from './kv-common.js';

/**
 * The cache cannot be read back directly, so kvStore is checked through attention: a token at position 0 attends
 * to one position with probability 1 and returns V exactly (rounded to f16 in an f16 cache), which makes slot,
 * position, layer and rounding errors visible at copy tolerance. Later positions check K through the scores.
 */
function kvStoreCase(dtype: KvCacheSpec['dtype'], seed: number): ConformanceCase {
  const spec: KvCacheSpec = { layers: 3, slots: 3, context: 24, kvHeads: 2, headDim: 32, dtype };
  // One batch scattering 3 slots × 10 positions in shuffled order, then overwrites, then another layer.
  const scattered: [number, number][] = [];
  for (let s = 0; s < 3; s++) for (let p = 0; p < 10; p++) scattered.push([s, p]);
  const order = new Prng(seed + 1);
  for (let i = scattered.length - 1; i > 0; i--) {
    const j = order.int(0, i);
    [scattered[i], scattered[j]] = [scattered[j]!, scattered[i]!];
  }
  const calls: StoreCall[] = [
    { layer: 2, slots: scattered.map((t) => t[0]), positions: scattered.map((t) => t[1]) },
    { layer: 2, slots: [1, 2, 0], positions: [0, 9, 4] }, // overwrite: the later store wins
    { layer: 0, slots: [0, 1, 2], positions: [0, 0, 0] }, // another layer must not leak into layer 2
  ];
  const p = { heads: 4, kvHeads: 2, headDim: 32, scale: 1 / Math.sqrt(32), roundProbsF16: false };
  return opCase({
    name: `kvStore/${dtype}/scattered.slots3.pos10.layer2`,
    op: 'kvStore',
    requires: [
      { op: 'kvStore', dtype, headDim: spec.headDim },
      { op: 'attention', dtype, headDim: spec.headDim },
    ],
    description: 'scattered (slot, position) stores in one batch, overwrites, a second layer; read through attention',
    size: 'small',
    setup(u) {
      const rng = new Prng(seed);
      const cache = storeAll(u, rng, spec, calls);
      const first = attentionQuery(u, rng, p, [[0, 0], [1, 0], [2, 0]]);
      const later = attentionQuery(u, rng, p, [[0, 9], [1, 5], [2, 9], [0, 4]]);
      return {
        run: () => {
          u.b.attention(first.out, first.q, cache, 2, first.batch, p);
          u.b.attention(later.out, later.q, cache, 2, later.batch, p);
        },
        read: [
          { name: 'v@pos0', tensor: first.out, check: nmseAtMost(TOL.copy) },
          { name: 'attn', tensor: later.out, check: nmseAtMost(dtype === 'f16' ? TOL.attentionF16 : TOL.attentionF32) },
        ],
      };
    },
  });
}

export const kvStoreCases: ConformanceCase[] = [kvStoreCase('f32', 801), kvStoreCase('f16', 802)];
