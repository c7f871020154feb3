import { opCase, nmseAtMost } from '../harness.js';
import { activations, normalF32, withSentinelRows, type RowKind } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

interface Shape {
  rows: number;
  cap: number;
  D: number;
  eps: number;
  kinds: RowKind[];
  inPlace?: boolean;
  seed: number;
}

function rmsNormCase(s: Shape): ConformanceCase {
  const tag = s.inPlace ? '.inplace' : '';
  return opCase({
    name: `rmsNorm/n${s.rows}.D${s.D}.eps${s.eps}${tag}`,
    op: 'rmsNorm',
    requires: [{ op: 'rmsNorm' }],
    description: `rows of kinds ${s.kinds.join(',')}; capacity ${s.cap} rows, rows past ${s.rows} must stay untouched`,
    size: 'small',
    setup(u) {
      const rng = new Prng(s.seed);
      const x = u.tensor('f32', [s.cap, s.D], withSentinelRows(activations(rng, s.cap, s.D, s.kinds), s.rows, s.D));
      const w = u.tensor('f32', [s.D], normalF32(rng, s.D, 0.1).map((v) => 1 + v));
      const out = s.inPlace ? x : u.tensor('f32', [s.cap, s.D], withSentinelRows(new Float32Array(s.cap * s.D), 0, s.D, -3.5));
      return {
        run: () => u.b.rmsNorm(out, x, w, s.eps, s.rows),
        read: [{ name: 'out', tensor: out, check: nmseAtMost(TOL.rmsNorm) }],
      };
    },
  });
}

export const rmsNormCases: ConformanceCase[] = [
  rmsNormCase({ rows: 1, cap: 1, D: 2560, eps: 1e-5, kinds: ['normal'], seed: 101 }),
  // A zero row (output 0, not NaN), one outlier, values near the eps floor, odd width, spare capacity.
  rmsNormCase({ rows: 4, cap: 6, D: 257, eps: 1e-6, kinds: ['normal', 'zero', 'outlier', 'tiny'], seed: 102 }),
  rmsNormCase({ rows: 3, cap: 3, D: 256, eps: 1e-5, kinds: ['normal', 'halves'], inPlace: true, seed: 103 }),
];
