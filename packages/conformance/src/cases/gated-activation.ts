import type { GateActivation } from '@trine/core';
import { opCase, nmseAtMost } from '../harness.js';
import { normalF32 } from '../inputs.js';
import { Prng } from '../prng.js';
import { TOL } from '../tolerances.js';
import type { ConformanceCase } from '../types.js';

function gatedCase(act: GateActivation, rows: number, cap: number, F: number, inPlace: boolean, seed: number): ConformanceCase {
  return opCase({
    name: `gatedActivation/${act}/n${rows}.F${F}${inPlace ? '.inplace' : ''}`,
    op: 'gatedActivation',
    requires: [{ op: 'gatedActivation', act }],
    description: `${act}(gate)·up with negative gates, gates of ±100 and ±1000 (exp overflow), zeros`,
    size: 'small',
    setup(u) {
      const rng = new Prng(seed);
      const g = normalF32(rng, cap * F, 2);
      // Edge gates: exp(−x) overflows for silu at −1000; relu2 squares 1000 to 1e6.
      const edges = [0, -0, 100, -100, 1000, -1000, 1e-30, -88.5, 88.5];
      for (let i = 0; i < edges.length; i++) g[rng.int(0, rows * F - 1)] = edges[i]!;
      const gate = u.tensor('f32', [cap, F], g);
      const up = u.tensor('f32', [cap, F], normalF32(rng, cap * F));
      const out = inPlace ? gate : u.alloc('f32', [cap, F]);
      return {
        run: () => u.b.gatedActivation(out, gate, up, act, rows),
        read: [{ name: 'out', tensor: out, check: nmseAtMost(act === 'silu' ? TOL.silu : TOL.relu2) }],
      };
    },
  });
}

export const gatedActivationCases: ConformanceCase[] = [
  gatedCase('relu2', 1, 1, 6912, false, 901),
  gatedCase('relu2', 3, 4, 1001, true, 902),
  gatedCase('silu', 1, 1, 6912, false, 903),
  gatedCase('silu', 3, 4, 1001, true, 904),
];
