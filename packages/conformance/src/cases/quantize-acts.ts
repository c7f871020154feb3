import { accumulatorGroups, type ActQuantScheme } from '@trine/core';
import { EXACT, opCase, nmseAtMost } from '../harness.js';
import { activations, type RowKind } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

function quantizeCase(scheme: ActQuantScheme, rows: number, cap: number, K: number, kinds: RowKind[], seed: number): ConformanceCase {
  return opCase({
    name: `quantizeActs/${scheme}/n${rows}.K${K}`,
    op: 'quantizeActs',
    requires: [{ op: 'quantizeActs', scheme }],
    description: `rows of kinds ${kinds.join(',')}; int8 values exact, scales by NMSE`,
    size: K * rows > 20000 ? 'large' : 'small',
    setup(u) {
      const rng = new Prng(seed);
      const G = accumulatorGroups(scheme, K);
      const x = u.tensor('f32', [cap, K], activations(rng, cap, K, kinds));
      const q = u.alloc('i8', [cap, K]);
      const scales = u.alloc('f32', [cap, G]);
      return {
        run: () => u.b.quantizeActs({ scheme, q, scales }, x, rows),
        read: [
          { name: 'q', tensor: q, check: EXACT },
          { name: 'scales', tensor: scales, check: nmseAtMost(TOL.actScale) },
        ],
      };
    },
  });
}

const EDGES: RowKind[] = ['normal', 'zero', 'halves', 'halvesNeg', 'tiny', 'outlier', 'extreme'];

export const quantizeActsCases: ConformanceCase[] = [
  quantizeCase('per_token', 1, 1, 2560, ['normal'], 301),
  // Odd K, every edge row, spare capacity rows left at zero.
  quantizeCase('per_token', 7, 9, 1001, EDGES, 302),
  quantizeCase('per_token', 2, 2, 6912, ['normal', 'halves'], 303),
  quantizeCase('per_block256', 7, 8, 768, EDGES, 304),
  quantizeCase('per_block256', 1, 1, 2560, ['normal'], 305),
  quantizeCase('per_block256', 2, 2, 6912, ['halvesNeg', 'outlier'], 306),
];
