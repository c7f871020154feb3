import type { RopeParams } from '@trine/core';
import { opCase, nmseAtMost } from '../harness.js';
import { normalF32, withSentinelRows } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

function ropeCase(label: string, heads: number, positions: number[], cap: number, p: RopeParams, tol: number, seed: number): ConformanceCase {
  const n = positions.length;
  return opCase({
    name: `rope/${label}/n${n}.H${heads}.Dh${p.headDim}.rope${p.ropeDim}.theta${p.theta}`,
    op: 'rope',
    requires: [{ op: 'rope' }],
    description: `NEOX rope at positions ${positions.join(',')}; rows past ${n} must stay untouched`,
    size: 'small',
    setup(u) {
      const rng = new Prng(seed);
      const width = heads * p.headDim;
      const x = u.tensor('f32', [cap, heads, p.headDim], withSentinelRows(normalF32(rng, cap * width), n, width));
      // Slots are irrelevant to rope; a backend must not read them as positions.
      const batch = u.b.prepareBatch(Int32Array.from(positions), Int32Array.from(positions, (_, i) => i % 3));
      return {
        run: () => u.b.rope(x, heads, batch, p),
        read: [{ name: 'x', tensor: x, check: nmseAtMost(tol) }],
      };
    },
  });
}

export const ropeCases: ConformanceCase[] = [
  // Position 0 is the identity; 1 and 2 the first turns.
  ropeCase('prefill', 4, [0, 1, 2], 4, { ropeDim: 64, headDim: 64, theta: 500000 }, TOL.rope, 601),
  // 2B4T head shape; tokens of a batch at unrelated positions.
  ropeCase('batched', 20, [17, 3, 250, 0], 4, { ropeDim: 128, headDim: 128, theta: 500000 }, TOL.rope, 602),
  // Partial rotation: dimensions past ropeDim pass through.
  ropeCase('partial', 3, [5, 6], 2, { ropeDim: 32, headDim: 64, theta: 10000 }, TOL.rope, 603),
  // Large positions: the angle recurrence and sin/cos range reduction in f32 are under test.
  ropeCase('large-pos', 5, [4095, 1000, 32767, 2047], 4, { ropeDim: 128, headDim: 128, theta: 500000 }, TOL.ropeLargePosition, 604),
];
