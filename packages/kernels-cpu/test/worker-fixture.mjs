// Runs in a worker_thread: loads its own instance of the (context-aware) addon and computes one ternary matmul
// with the raw native API, posting back the outputs.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const addon = createRequire(import.meta.url)(workerData.addonPath);
const { rows, cols, codes, x } = workerData;
const be = new addon.NativeCpuBackend(workerData.variant, 2);
const packed = addon.repackTernary(0, codes, rows, cols);
const q = new Int8Array(cols);
const s = new Float32Array(1);
be.quantize(0, x, 1, cols, q, s);
const out = new Float32Array(rows);
for (let i = 0; i < workerData.repeat; i++) be.ternaryMatmul(out, false, 0, q, s, cols, packed, rows, Float32Array.of(0.5), 0, 1);
be.destroy();
parentPort.postMessage(out);
