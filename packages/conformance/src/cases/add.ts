import { opCase, nmseAtMost } from '../harness.js';
import { activations, withSentinelRows } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

function addCase(rows: number, cap: number, D: number, alias: 'none' | 'a' | 'b', seed: number): ConformanceCase {
  return opCase({
    name: `add/n${rows}.D${D}${alias === 'none' ? '' : `.out=${alias}`}`,
    op: 'add',
    requires: [{ op: 'add' }],
    description: `residual add; ${alias === 'none' ? 'separate out' : `out aliases ${alias}`}; capacity ${cap} rows`,
    size: 'small',
    setup(u) {
      const rng = new Prng(seed);
      const a = u.tensor('f32', [cap, D], withSentinelRows(activations(rng, cap, D, ['normal', 'outlier']), rows, D));
      const b = u.tensor('f32', [cap, D], withSentinelRows(activations(rng, cap, D, ['normal', 'zero']), rows, D, -1.5));
      const out = alias === 'a' ? a : alias === 'b' ? b : u.alloc('f32', [cap, D]);
      return {
        run: () => u.b.add(out, a, b, rows),
        read: [{ name: 'out', tensor: out, check: nmseAtMost(TOL.add) }],
      };
    },
  });
}

export const addCases: ConformanceCase[] = [
  addCase(1, 1, 2560, 'none', 201),
  addCase(3, 5, 1001, 'a', 202),
  addCase(2, 2, 256, 'b', 203),
];
