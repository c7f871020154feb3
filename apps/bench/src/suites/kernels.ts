/**
 * Kernel suite: ternary GEMV (decode) and GEMM (prefill-shaped) per matrix shape, and the LM head, on any backend
 * through the kernel interface. GEMV walks enough copies of a matrix (≥ 128 MiB of packed weights) that each call
 * reads cold weights, as in a decode step. GB/s counts the weight bytes read; GOPS counts 2·N·K per row; the
 * roofline percentage is GB/s over this host's read bandwidth at the same thread count.
 */
import { randomF16Matrix, randomI2sMatrix, type KernelBackend, type QuantizedActs, type TensorDesc } from '@trine/core';
import { createBackend } from '@trine/backends';
import type { JobAnswer, KernelJob, KernelShape } from '../jobs.js';
import type { BenchResult } from '../report/schema.js';

/** Packed weights walked per GEMV shape: well past any last-level cache, so each call reads from DRAM. */
const COLD_BYTES = 512 * 2 ** 20;

/** Runs fn until minSeconds have passed (at least twice); returns seconds per call. */
function timeCalls(minSeconds: number, fn: (i: number) => void): number {
  fn(0); // warm-up
  const t0 = performance.now();
  let calls = 0;
  do fn(++calls);
  while (calls < 2 || (performance.now() - t0) / 1000 < minSeconds);
  return (performance.now() - t0) / 1000 / calls;
}

function acts(be: KernelBackend, rows: number, k: number): QuantizedActs<TensorDesc> {
  const host = new Float32Array(rows * k);
  for (let i = 0; i < host.length; i++) host[i] = Math.sin(i * 0.37) * 2;
  const x = be.upload({ dtype: 'f32', shape: [rows, k], data: host });
  const a = { scheme: 'per_token' as const, q: be.alloc('i8', [rows, k]), scales: be.alloc('f32', [rows, 1]) };
  be.quantizeActs(a, x, rows);
  be.dispose(x);
  return a;
}

export async function runKernelJob(job: KernelJob): Promise<JobAnswer> {
  const made = await createBackend(job.backend, { threads: job.threads });
  if ('unavailable' in made) return { results: [], skipped: [{ what: `${job.backend} kernels ${job.threads}t`, reason: made.unavailable }] };
  const be = made.backend;
  const results: BenchResult[] = [];
  // The roofline divides by the highest read bandwidth seen: the run's probe, or the backend's own probe taken
  // here, just before the kernels, under the same machine load. Both are lower bounds of the true ceiling.
  const probe = (be as unknown as { readBandwidth?: (mb: number, reps: number) => number }).readBandwidth;
  const local = typeof probe === 'function' ? probe.call(be, 512, 3) : undefined;
  if (local !== undefined && local > (job.bandwidthGBs ?? 0))
    job = { ...job, bandwidthGBs: local, bandwidthSource: `${job.bandwidthSource ?? 'kernels-cpu-native'}, re-probed before the kernels` };
  const base = { suite: 'kernel' as const, engine: 'trine', backend: job.backend, threads: job.threads };
  const addBandwidth = (shape: string, variant: string, gbs: number, gops: number, batch: number) => {
    results.push(
      { ...base, shape, variant, batch, metric: 'gbps', value: gbs, unit: 'GB/s', higherIsBetter: true },
      { ...base, shape, variant, batch, metric: 'gops', value: gops, unit: 'GOPS', higherIsBetter: true },
    );
    if (job.bandwidthGBs)
      results.push({ ...base, shape, variant, batch, metric: 'roofline_pct', value: (100 * gbs) / job.bandwidthGBs, unit: '%', higherIsBetter: true, note: `of ${job.bandwidthGBs.toFixed(1)} GB/s (${job.bandwidthSource ?? 'measured'})` });
  };
  try {
    for (const s of job.shapes) {
      if (s.kind === 'ternary') await ternaryShape(be, job, s, addBandwidth, (r) => results.push({ ...base, ...r }));
      else await lmHeadShape(be, job, s, addBandwidth);
    }
    return { results, skipped: [], facts: { backendVariant: be.info.variant } };
  } finally {
    be.destroy();
  }
}

type Add = (shape: string, variant: string, gbs: number, gops: number, batch: number) => void;

async function ternaryShape(be: KernelBackend, job: KernelJob, s: KernelShape, add: Add, push: (r: Omit<BenchResult, 'suite' | 'engine' | 'backend' | 'threads'>) => void): Promise<void> {
  const bytes = (s.n * s.k) / 4;
  const copies = Math.max(2, Math.ceil(COLD_BYTES / bytes));
  // One random matrix uploaded `copies` times: each upload is its own backend memory, and timing does not depend
  // on the values.
  const data = await randomI2sMatrix(s.n, s.k, `kernel/${s.name}`);
  const mats = Array.from({ length: copies }, (_, i) =>
    be.uploadTernary({ name: `${s.name}#${i}`, rows: s.n, cols: s.k, format: 'i2_s', data, granularity: 'tensor', scales: Float32Array.of(0.1) }));
  const rows = Math.max(1, job.gemmRows);
  const a = acts(be, rows, s.k);
  const out = be.alloc('f32', [rows, s.n]);
  try {
    const t = timeCalls(job.minSeconds, (i) => be.ternaryMatmul(out, a, mats[i % copies]!, 1));
    await be.read(out, 1); // a device backend finishes its queue here
    add(s.name, 'gemv', bytes / t / 1e9, (2 * s.n * s.k) / t / 1e9, 1);
    if (job.gemmRows > 0) {
      const tg = timeCalls(job.minSeconds, (i) => be.ternaryMatmul(out, a, mats[i % copies]!, rows));
      await be.read(out, 1);
      push({ shape: s.name, variant: `gemm${rows}`, batch: rows, metric: 'gops', value: (2 * rows * s.n * s.k) / tg / 1e9, unit: 'GOPS', higherIsBetter: true });
    }
  } finally {
    for (const m of mats) be.dispose(m);
    be.dispose(a.q);
    be.dispose(a.scales);
    be.dispose(out);
  }
}

async function lmHeadShape(be: KernelBackend, job: KernelJob, s: KernelShape, add: Add): Promise<void> {
  const host = await randomF16Matrix(s.n * s.k, `kernel/${s.name}`);
  const x = be.upload({ dtype: 'f32', shape: [1, s.k], data: Float32Array.from({ length: s.k }, (_, i) => Math.cos(i * 0.11)) });
  const out = be.alloc('f32', [1, s.n]);
  try {
    for (const format of job.lmHeadFormats) {
      if (!be.supports({ op: 'lmHead', format }).ok) continue;
      const m = be.uploadMatrix({ dtype: 'f16', shape: [s.n, s.k], data: host }, format);
      try {
        const t = timeCalls(job.minSeconds, () => be.lmHead(out, x, m, Int32Array.of(0)));
        await be.read(out, 1);
        const bytes = s.n * s.k * (format === 'f16' ? 2 : 1);
        add(s.name, `lm_head ${format}`, bytes / t / 1e9, (2 * s.n * s.k) / t / 1e9, 1);
      } finally {
        be.dispose(m);
      }
    }
  } finally {
    be.dispose(x);
    be.dispose(out);
  }
}
