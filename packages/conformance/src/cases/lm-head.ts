import type { MatrixFormat } from '@trine/core';
import { memoInputs, opCase, nmseAtMost } from '../harness.js';
import { activations, normalF32, toF16 } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

/** The host matrix as a file gives it: f16 for f16 and q8 (the backend quantizes at load), f32 for f32. */
export function hostMatrix(rng: Prng, V: number, D: number, format: MatrixFormat) {
  const values = normalF32(rng, V * D, 0.15);
  // A zero row: q8's scale must come out 0, not NaN.
  values.fill(0, 0, Math.min(D, values.length));
  return format === 'f32'
    ? ({ dtype: 'f32', shape: [V, D], data: values } as const)
    : ({ dtype: 'f16', shape: [V, D], data: toF16(values) } as const);
}

function lmHeadCase(format: MatrixFormat, V: number, D: number, xRows: number, select: number[], seed: number): ConformanceCase {
  return opCase({
    name: `lmHead/${format}/V${V}.D${D}.select${select.join('-')}`,
    op: 'lmHead',
    requires: [{ op: 'lmHead', format }],
    description: `logits of rows ${select.join(',')} of a ${xRows}-row x (repeats and order kept)`,
    size: V * D * select.length > 4_000_000 ? 'large' : 'small',
    setup(u) {
      const host = memoInputs(`lmHead${seed}`, () => {
        const rng = new Prng(seed);
        return { m: hostMatrix(rng, V, D, format), x: activations(rng, xRows, D, ['normal', 'outlier']) };
      });
      const m = u.matrix(host.m, format);
      const x = u.tensor('f32', [xRows, D], host.x);
      const out = u.alloc('f32', [select.length, V]);
      const sel = Int32Array.from(select);
      return {
        run: () => u.b.lmHead(out, x, m, sel),
        read: [{ name: 'logits', tensor: out, check: nmseAtMost(format === 'q8' ? TOL.lmHeadQ8 : TOL.lmHead) }],
      };
    },
  });
}

export const lmHeadCases: ConformanceCase[] = [
  lmHeadCase('f32', 97, 64, 1, [0], 1001),
  lmHeadCase('f16', 1000, 256, 3, [2, 0], 1002),
  lmHeadCase('q8', 1000, 256, 3, [1, 1, 0], 1003),
  lmHeadCase('f32', 333, 257, 4, [3, 0, 2], 1004),
  // Batched decode: ≥ 8 tokens take the backends' row × 8-token tiles; 1000 rows and 257 columns leave remainders.
  lmHeadCase('f16', 1000, 257, 9, [8, 0, 1, 2, 3, 4, 5, 6, 7], 1007),
  lmHeadCase('f32', 1000, 257, 9, [0, 8, 1, 7, 2, 6, 3, 5, 4], 1008),
  // Real hidden size, a slice of the 128256 vocab.
  lmHeadCase('f16', 3000, 2560, 1, [0], 1005),
  lmHeadCase('q8', 1024, 2560, 2, [1], 1006),
];
