/**
 * Host read bandwidth for the roofline: @trine/kernels-cpu's native probe (`readBandwidth`: read-only sweeps with
 * the code path's widest loads over its own thread pool) when the addon loads. Otherwise a fallback without a
 * compiler: worker threads each compare the two halves of their slice of one shared buffer with
 * Buffer.compare (libc memcmp: SIMD, read-only, two streams), best of `reps`. A plain JS summing loop measured less
 * than half of that here. memcmp is still not a tuned STREAM read, so read the figure as a lower bound: it is
 * labelled `node-memcmp-fallback` wherever it is used.
 */
import { Worker } from 'node:worker_threads';
import { createBackend } from '@trine/backends';
import type { BandwidthJob, JobAnswer } from '../jobs.js';

export const BANDWIDTH_SOURCE = 'node-memcmp-fallback';
export const NATIVE_BANDWIDTH_SOURCE = 'kernels-cpu-native';

/** The native probe at this thread count, or undefined when the addon (or its probe) is not there. */
async function nativeBandwidth(threads: number, megabytes: number, reps: number): Promise<number | undefined> {
  const made = await createBackend('cpu', { threads });
  if ('unavailable' in made) return undefined;
  try {
    const probe = (made.backend as unknown as { readBandwidth?: (mb: number, reps: number) => number }).readBandwidth;
    return typeof probe === 'function' ? probe.call(made.backend, megabytes, reps) : undefined;
  } finally {
    made.backend.destroy();
  }
}

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
  const native = await nativeBandwidth(job.threads, job.megabytes, job.reps);
  if (native !== undefined)
    return {
      results: [{ suite: 'kernel', engine: 'trine', backend: 'host', shape: 'memory-read', variant: NATIVE_BANDWIDTH_SOURCE, threads: job.threads, batch: 1, metric: 'read_bandwidth', value: native, unit: 'GB/s', higherIsBetter: true, note: `${job.megabytes} MiB, best of ${job.reps}` }],
      skipped: [],
      facts: { bandwidthSource: NATIVE_BANDWIDTH_SOURCE },
    };
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
      facts: { bandwidthSource: BANDWIDTH_SOURCE },
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
