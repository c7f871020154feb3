/**
 * Host read bandwidth for the roofline. @trine/kernels-cpu has no native memory-bandwidth probe yet, so this is a
 * fallback without a compiler: worker threads each compare the two halves of their slice of one shared buffer with
 * Buffer.compare (libc memcmp: SIMD, read-only, two streams), best of `reps`. A plain JS summing loop measured less
 * than half of that here. memcmp is still not a tuned STREAM read, so read the figure as a lower bound: it is
 * labelled `node-memcmp-fallback` wherever it is used.
 */
import { Worker } from 'node:worker_threads';
import type { BandwidthJob, JobAnswer } from '../jobs.js';

export const BANDWIDTH_SOURCE = 'node-memcmp-fallback';

const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const half = Math.floor(workerData.bytes / 2);
const a = Buffer.from(workerData.sab, workerData.start, half);
const b = Buffer.from(workerData.sab, workerData.start + half, half);
parentPort.on('message', () => {
  const t0 = performance.now();
  const same = a.compare(b);
  parentPort.postMessage({ ms: performance.now() - t0, same });
});
`;

export async function runBandwidthJob(job: BandwidthJob): Promise<JobAnswer> {
  const total = job.megabytes * 2 ** 20;
  const sab = new SharedArrayBuffer(total);
  Buffer.from(sab).fill(0x5a); // touch every page (no shared zero page); both halves equal, so memcmp reads them all
  const per = Math.floor(total / job.threads / 4096) * 4096;
  const workers = Array.from({ length: job.threads }, (_, t) => new Worker(READER, { eval: true, workerData: { sab, start: t * per, bytes: per } }));
  try {
    const once = () => Promise.all(workers.map((w) => new Promise<number>((resolve) => { w.once('message', (m: { ms: number }) => resolve(m.ms)); w.postMessage(0); })));
    await once(); // warm-up
    let best = 0;
    for (let r = 0; r < job.reps; r++) {
      const t0 = performance.now();
      await once();
      const secs = (performance.now() - t0) / 1000;
      best = Math.max(best, (per * job.threads) / secs / 1e9);
    }
    return {
      results: [{ suite: 'kernel', engine: 'trine', backend: 'host', shape: 'memory-read', variant: BANDWIDTH_SOURCE, threads: job.threads, batch: 1, metric: 'read_bandwidth', value: best, unit: 'GB/s', higherIsBetter: true, note: `${job.megabytes} MiB buffer, best of ${job.reps}` }],
      skipped: [],
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
