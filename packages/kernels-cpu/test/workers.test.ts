import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodeTernary } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createCpuBackend, loadNative } from '../src/index.js';

// The serving worker runs inference in worker_threads: the addon must load once per thread (context-aware, no
// shared mutable state) and give every thread the same answer while they all compute at once.
const addonPath = path.resolve(fileURLToPath(import.meta.url), '../../build/Release/kernels_cpu.node');
const fixture = fileURLToPath(new URL('./worker-fixture.mjs', import.meta.url));

describe('worker_threads', () => {
  it('three workers and the main thread compute the same matmul concurrently', async () => {
    const rows = 320, cols = 1024;
    const codes = Int8Array.from({ length: rows * cols }, (_, i) => ((i * 7919) % 3) - 1);
    const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i));
    const runs = [0, 1, 2].map(
      (i) =>
        new Promise<Float32Array>((resolve, reject) => {
          const w = new Worker(fixture, { workerData: { addonPath, rows, cols, codes, x, repeat: 50, variant: i === 0 ? 'scalar' : loadNative().hostInfo().best } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    const be = createCpuBackend({ threads: 2, variant: 'scalar' });
    const w = be.uploadTernary(encodeTernary(codes, rows, cols, 'codes', Float32Array.of(0.5)));
    const a = { scheme: 'per_token' as const, q: be.alloc('i8', [1, cols]), scales: be.alloc('f32', [1, 1]) };
    be.quantizeActs(a, be.upload({ dtype: 'f32', shape: [1, cols], data: x }), 1);
    const y = be.alloc('f32', [1, rows]);
    be.ternaryMatmul(y, a, w, 1);
    be.destroy();
    for (const out of await Promise.all(runs)) expect(out).toEqual(y.data);
  });
});
