/**
 * Host read bandwidth for the roofline. @trine/kernels-cpu has no native memory-bandwidth probe yet, so this is a
 * JS fallback: worker threads each sum their slice of one shared buffer (8-way unrolled Float64 reads), best of
 * `reps`. A JS loop issues fewer loads per cycle than a native SIMD STREAM read, so read it as a lower bound:
 * the figure is labelled `js-fallback` wherever it is used.
 */
import { Worker } from 'node:worker_threads';
import type { BandwidthJob, JobAnswer } from '../jobs.js';

export const BANDWIDTH_SOURCE = 'js-fallback';

const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const a = new Float64Array(workerData.sab, workerData.start * 8, workerData.count);
parentPort.on('message', () => {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  const n = a.length - (a.length % 8);
  const t0 = performance.now();
  for (let i = 0; i < n; i += 8) {
    s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];
    s4 += a[i + 4]; s5 += a[i + 5]; s6 += a[i + 6]; s7 += a[i + 7];
  }
  parentPort.postMessage({ ms: performance.now() - t0, sum: s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 });
});
`;

export async function runBandwidthJob(job: BandwidthJob): Promise<JobAnswer> {
  const count = Math.floor((job.megabytes * 2 ** 20) / 8);
  const sab = new SharedArrayBuffer(count * 8);
  const all = new Float64Array(sab);
  for (let i = 0; i < count; i++) all[i] = i & 1023; // touch every page: no zero-page reads
  const per = Math.floor(count / job.threads);
  const workers = Array.from({ length: job.threads }, (_, t) => new Worker(READER, { eval: true, workerData: { sab, start: t * per, count: per } }));
  try {
    const once = () => Promise.all(workers.map((w) => new Promise<number>((resolve) => { w.once('message', (m: { ms: number }) => resolve(m.ms)); w.postMessage(0); })));
    await once(); // JIT warm-up
    let best = 0;
    for (let r = 0; r < job.reps; r++) {
      const t0 = performance.now();
      await once();
      const secs = (performance.now() - t0) / 1000;
      best = Math.max(best, (per * job.threads * 8) / secs / 1e9);
    }
    return {
      results: [{ suite: 'kernel', engine: 'trine', backend: 'host', shape: 'memory-read', variant: BANDWIDTH_SOURCE, threads: job.threads, batch: 1, metric: 'read_bandwidth', value: best, unit: 'GB/s', higherIsBetter: true, note: `${job.megabytes} MiB buffer, best of ${job.reps}` }],
      skipped: [],
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
