import { EXACT, opCase } from '../harness.js';
import type { ConformanceCase } from '../types.js';
import { TERNARY_REAL_SHAPES, TERNARY_SHAPES, ternaryInputs, ternaryShapeName, ternarySize, type TernaryShape } from './ternary-common.js';

function accCase(s: TernaryShape): ConformanceCase {
  return opCase({
    name: `ternaryMatmulAcc/${ternaryShapeName(s)}`,
    op: 'ternaryMatmulAcc',
    requires: [{ op: 'ternaryMatmulAcc', scheme: s.scheme }],
    description: `int32 accumulators of ${s.format} weights × int8 activations, bit-exact`,
    size: ternarySize(s),
    setup(u) {
      const { w, a } = ternaryInputs(u, s);
      const G = s.scheme === 'per_token' ? 1 : s.K / 256;
      const out = u.alloc('i32', [s.cap, s.N, G]);
      return {
        run: () => u.b.ternaryMatmulAcc(out, a, w, s.rows),
        read: [{ name: 'acc', tensor: out, check: EXACT }],
      };
    },
  });
}

export const ternaryMatmulAccCases: ConformanceCase[] = [...TERNARY_SHAPES, ...TERNARY_REAL_SHAPES].map(accCase);
