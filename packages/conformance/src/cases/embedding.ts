import type { MatrixFormat } from '@trine/core';
import { memoInputs, opCase, nmseAtMost } from '../harness.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';
import { hostMatrix } from './lm-head.js';

function embeddingCase(format: MatrixFormat, V: number, D: number, ids: number[], cap: number, seed: number): ConformanceCase {
  return opCase({
    name: `embedding/${format}/V${V}.D${D}.ids${ids.length}`,
    op: 'embedding',
    requires: [{ op: 'embedding', format }],
    description: `rows ${ids.join(',')} (first, last, repeated, the zero row 0); capacity ${cap} rows`,
    size: 'small',
    setup(u) {
      const m = u.matrix(memoInputs(`embedding${seed}`, () => hostMatrix(new Prng(seed), V, D, format)), format);
      const out = u.alloc('f32', [cap, D]);
      const idArray = Int32Array.from(ids);
      return {
        run: () => u.b.embedding(out, m, idArray),
        // q8 rows are q·scale in f32: one multiply, as exact as a copy.
        read: [{ name: 'out', tensor: out, check: nmseAtMost(TOL.copy) }],
      };
    },
  });
}

export const embeddingCases: ConformanceCase[] = [
  embeddingCase('f32', 97, 64, [0, 96, 5, 5, 50], 6, 1101),
  embeddingCase('f16', 1000, 256, [999, 0, 7, 7, 512, 3, 1], 8, 1102),
  embeddingCase('q8', 1000, 256, [1, 999, 0, 1], 4, 1103),
  embeddingCase('f16', 2048, 2560, [2047, 128], 2, 1104),
  // The 2B4T width, as a model with a q8 LM head looks its tokens up in the same q8 rows (the zero row included).
  embeddingCase('q8', 2048, 2560, [2047, 0, 128, 2047], 4, 1105),
];
