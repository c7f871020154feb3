import { describe, expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';

// The pool must take a job published the instant it reports ready (a race that once hung the first parallel op).
describe('wasm thread pool', () => {
  it('runs a parallel op immediately after start, repeatedly', async () => {
    for (let i = 0; i < 5; i++) {
      const b = await createWasmBackend({ threads: 2 });
      expect(b.info.threads).toBe(2);
      const V = 64;
      const D = 32;
      const m = b.uploadMatrix({ dtype: 'f32', shape: [V, D], data: new Float32Array(V * D).map((_, j) => (j % D) + 1) }, 'f32');
      const x = b.upload({ dtype: 'f32', shape: [1, D], data: new Float32Array(D).fill(1) });
      const out = b.alloc('f32', [1, V]);
      b.lmHead(out, x, m, Int32Array.of(0));
      const logits = (await b.read(out)).data as Float32Array;
      expect(Array.from(logits)).toEqual(new Array(V).fill((D * (D + 1)) / 2));
      b.destroy();
    }
  });
});
