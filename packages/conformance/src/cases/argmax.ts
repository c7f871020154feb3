import { EXACT, opCase } from '../harness.js';
import { normalF32 } from '../inputs.js';
import { Prng } from '../prng.js';
import type { ConformanceCase } from '../types.js';

/**
 * Rows: random; a tie between two maxima (the first index wins); all equal (index 0); every value −Infinity but
 * one; the maximum at the last index; large negative values only.
 */
function logitsRows(rng: Prng, rows: number, V: number, firstKind: number): Float32Array {
  const x = normalF32(rng, rows * V, 3);
  const row = (r: number) => x.subarray(r * V, (r + 1) * V);
  const kinds = [
    () => {},
    (y: Float32Array) => {
      const a = rng.int(1, V - 2);
      y[a] = 50;
      y[rng.int(a + 1, V - 1)] = 50;
    },
    (y: Float32Array) => y.fill(0.25),
    (y: Float32Array) => {
      y.fill(-Infinity);
      y[rng.int(0, V - 1)] = -1e30;
    },
    (y: Float32Array) => {
      y[V - 1] = 1e3;
    },
    (y: Float32Array) => {
      for (let i = 0; i < y.length; i++) y[i] = -1e6 - i;
    },
  ];
  for (let r = 0; r < rows; r++) kinds[(r + firstKind) % kinds.length]!(row(r));
  return x;
}

function argmaxCase(rows: number, cap: number, V: number, seed: number, firstKind = 0): ConformanceCase {
  return opCase({
    name: `argmax/n${rows}.V${V}`,
    op: 'argmax',
    requires: [{ op: 'argmax' }],
    description: 'random rows, ties (first index wins), all equal, −Infinity, max at the last index',
    size: 'small',
    setup(u) {
      const rng = new Prng(seed);
      const logits = u.tensor('f32', [cap, V], logitsRows(rng, cap, V, firstKind));
      const out = u.tensor('i32', [cap, 1], new Int32Array(cap).fill(-7));
      return {
        run: () => u.b.argmax(out, logits, rows),
        read: [{ name: 'index', tensor: out, check: EXACT }],
      };
    },
  });
}

export const argmaxCases: ConformanceCase[] = [argmaxCase(6, 7, 1000, 1201), argmaxCase(1, 1, 128256, 1202, 4), argmaxCase(3, 3, 777, 1203)];
