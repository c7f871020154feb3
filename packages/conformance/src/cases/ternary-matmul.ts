import { opCase, nmseAtMost } from '../harness.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';
import { TERNARY_REAL_SHAPES, TERNARY_SHAPES, ternaryInputs, ternaryShapeName, ternarySize, type TernaryShape } from './ternary-common.js';

function matmulCase(s: TernaryShape): ConformanceCase {
  return opCase({
    name: `ternaryMatmul/${ternaryShapeName(s)}`,
    op: 'ternaryMatmul',
    requires: [{ op: 'ternaryMatmul', scheme: s.scheme }],
    description: `BitLinear product of ${s.format} weights and int8 activations with the ${s.scheme} float epilogue`,
    size: ternarySize(s),
    setup(u) {
      const { w, a } = ternaryInputs(u, s);
      const out = u.alloc('f32', [s.cap, s.N]);
      return {
        run: () => u.b.ternaryMatmul(out, a, w, s.rows),
        read: [{ name: 'out', tensor: out, check: nmseAtMost(TOL.ternaryMatmul) }],
      };
    },
  });
}

// The float op runs the small shapes and one real shape; the integer op (exact) carries the other real shapes.
export const ternaryMatmulCases: ConformanceCase[] = [...TERNARY_SHAPES, TERNARY_REAL_SHAPES[0]!].map(matmulCase);
