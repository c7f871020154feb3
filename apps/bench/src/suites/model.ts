/**
 * Whole-model suites, run inside a child process: load time, prefill tokens/s and time to first token, decode
 * tokens/s (batch 1, greedy, each step's token fed back), the opt-in q8 LM head with its logit drift against f16,
 * and batched decode through model.forward with one KV slot per sequence.
 */
import { BitNetModel, openModel, type Handles, type KernelBackend } from '@trine/core';
import { createBackend } from '@trine/backends';
import type { BatchedJob, JobAnswer, ModelJob } from '../jobs.js';
import type { BenchResult } from '../report/schema.js';

const now = (): number => performance.now();

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** Deterministic prompt tokens in the byte-token range (any id works; the weights are random). */
function promptTokens(n: number, seed: number): Int32Array {
  const t = new Int32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    t[i] = 32 + (s >>> 8) % 200;
  }
  return t;
}

type Model = BitNetModel<Handles>;

/** Greedy ids of the rows asked for, via the backend's argmax (one i32 per row comes back, not the logits). */
async function argmaxRows(model: Model, logits: Handles['tensor'], out: Handles['tensor'], rows: number): Promise<Int32Array> {
  model.backend.argmax(out, logits, rows);
  const host = await model.backend.read(out, rows);
  return host.data as Int32Array;
}

function seq(n: number, from = 0): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => from + i);
}

async function prefill(model: Model, slot: number, tokens: Int32Array, from: number, out: Handles['tensor']): Promise<number> {
  const n = tokens.length;
  const logits = model.forward({ tokens, positions: seq(n, from), slots: new Int32Array(n).fill(slot), logitsFor: Int32Array.of(n - 1) });
  return (await argmaxRows(model, logits, out, 1))[0]!;
}

async function load(job: { backend: string; threads: number; modelPath: string }, opts: { slots: number; context: number; maxBatchTokens: number; lmHead?: 'f16' | 'q8' }) {
  const made = await createBackend(job.backend, { threads: job.threads });
  if ('unavailable' in made) return made;
  const t0 = now();
  const source = await openModel(job.modelPath);
  const context = Math.min(opts.context, source.config.context);
  try {
    const model = (await BitNetModel.load(source, made.backend, {
      slots: opts.slots,
      context,
      maxBatchTokens: opts.maxBatchTokens,
      ...(opts.lmHead === 'q8' ? { lmHeadFormat: 'q8' as const } : {}),
    })) as unknown as Model;
    return { model, backend: made.backend as KernelBackend<Handles>, loadMs: now() - t0, source };
  } catch (e) {
    made.backend.destroy();
    await source.close();
    return { unavailable: e instanceof Error ? e.message : String(e) };
  }
}

export async function runModelJob(job: ModelJob): Promise<JobAnswer> {
  const variant = job.lmHead === 'q8' ? 'q8-lm-head' : undefined;
  const base = { engine: 'trine', backend: job.backend, shape: job.shape, threads: job.threads, batch: 1, ...(variant ? { variant } : {}) };
  const maxCtx = Math.max(job.prefillTokens, ...job.contexts.map((c) => c + job.decodeTokens + job.driftSteps + 1));
  const loaded = await load(job, { slots: 1, context: maxCtx, maxBatchTokens: Math.max(job.prefillTokens, 1), lmHead: job.lmHead });
  if ('unavailable' in loaded) return { results: [], skipped: [{ what: `${job.backend} ${job.shape} ${job.threads}t${variant ? ` ${variant}` : ''}`, reason: loaded.unavailable }] };
  const { model, backend, loadMs, source } = loaded;
  const results: BenchResult[] = [];
  const facts: Record<string, string | number> = { backendVariant: backend.info.variant, backendThreads: backend.info.threads };
  const out = backend.alloc('i32', [model.maxBatchTokens]);
  try {
    results.push({ ...base, suite: 'load', metric: 'load_ms', value: loadMs, unit: 'ms', higherIsBetter: false, note: backend.info.variant });
    // Warm-up: one token, so first-call costs (page faults, JIT, thread start) stay out of the figures.
    await prefill(model, 0, promptTokens(1, 1), 0, out);

    if (job.suites.includes('prefill') && job.prefillTokens <= model.context) {
      const times: number[] = [];
      const prompt = promptTokens(job.prefillTokens, 7);
      for (let r = 0; r < job.reps; r++) {
        const t0 = now();
        await prefill(model, 0, prompt, 0, out);
        times.push(now() - t0);
      }
      const t = median(times);
      results.push(
        { ...base, suite: 'prefill', context: job.prefillTokens, metric: 'tokens_per_s', value: job.prefillTokens / (t / 1000), unit: 'tok/s', higherIsBetter: true },
        { ...base, suite: 'prefill', context: job.prefillTokens, metric: 'ttft_ms', value: t, unit: 'ms', higherIsBetter: false, note: `${job.prefillTokens}-token prompt` },
      );
    }

    const skipped: { what: string; reason: string }[] = [];
    if (job.suites.includes('decode')) {
      for (const ctx of job.contexts) {
        if (ctx + job.decodeTokens + job.driftSteps + 1 > model.context) {
          skipped.push({ what: `${job.backend} ${job.shape} ${job.threads}t decode at context ${ctx}`, reason: `${ctx} + ${job.decodeTokens} tokens exceed the model's context of ${model.context}` });
          continue;
        }
        const rates: number[] = [];
        for (let r = 0; r < job.reps; r++) {
          let tok = await prefill(model, 0, promptTokens(Math.max(ctx, 1), 11), 0, out);
          const t0 = now();
          for (let i = 0; i < job.decodeTokens; i++) {
            const logits = model.forward({ tokens: Int32Array.of(tok), positions: Int32Array.of(ctx + i), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
            tok = (await argmaxRows(model, logits, out, 1))[0]!;
          }
          rates.push(job.decodeTokens / ((now() - t0) / 1000));
        }
        results.push({ ...base, suite: 'decode', context: ctx, metric: 'tokens_per_s', value: median(rates), unit: 'tok/s', higherIsBetter: true, note: `${job.decodeTokens} tokens after ${ctx}` });
      }
    }

    // Peak RSS before the drift check, which loads the f16 model beside this one.
    const rss = process.resourceUsage().maxRSS * 1024;
    results.push({ ...base, suite: 'load', metric: 'peak_rss_mb', value: rss / 2 ** 20, unit: 'MiB', higherIsBetter: false, note: `file ${(source.weightBytes / 2 ** 20).toFixed(0)} MiB of weights` });
    if (job.lmHead === 'q8' && job.driftSteps > 0 && 8 + job.driftSteps <= model.context) results.push(...(await drift(model, source, job, base)));
    return { results, skipped, facts };
  } finally {
    backend.dispose(out);
    model.dispose();
    backend.destroy();
    await source.close();
  }
}

/**
 * Logit drift of the q8 matrix over a run: the q8 model decodes greedily and the file's f16 model, loaded beside it
 * for this check, is fed the same tokens; at each step NMSE = Σ(q8 − f16)² / Σ f16² over the vocabulary, and
 * whether the top-1 ids agree. On a tied model the q8 rows are the embedding too, so the drift includes both uses.
 */
async function drift(
  model: Model,
  source: Awaited<ReturnType<typeof openModel>>,
  job: ModelJob,
  base: Omit<BenchResult, 'suite' | 'metric' | 'value' | 'unit' | 'higherIsBetter'>,
): Promise<BenchResult[]> {
  const be = model.backend;
  const vocab = model.config.vocab;
  const prompt = promptTokens(8, 13);
  const ref = (await BitNetModel.load(source, be, { slots: 1, context: prompt.length + job.driftSteps + 1, maxBatchTokens: prompt.length })) as unknown as Model;
  const out = be.alloc('i32', [model.maxBatchTokens]);
  let err = 0;
  let sum = 0;
  let agree = 0;
  try {
    let tok = await prefill(model, 0, prompt, 0, out);
    ref.forward({ tokens: prompt, positions: seq(prompt.length), slots: new Int32Array(prompt.length), logitsFor: Int32Array.of(prompt.length - 1) });
    for (let i = 0; i < job.driftSteps; i++) {
      const step = { tokens: Int32Array.of(tok), positions: Int32Array.of(prompt.length + i), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) };
      const q = (await be.read(model.forward(step), 1)).data as Float32Array;
      const f = (await be.read(ref.forward(step), 1)).data as Float32Array;
      let qi = 0;
      let fi = 0;
      for (let v = 0; v < vocab; v++) {
        const d = q[v]! - f[v]!;
        err += d * d;
        sum += f[v]! * f[v]!;
        if (q[v]! > q[qi]!) qi = v;
        if (f[v]! > f[fi]!) fi = v;
      }
      if (qi === fi) agree++;
      tok = qi;
    }
  } finally {
    be.dispose(out);
    ref.dispose();
  }
  const note = `${job.driftSteps} greedy steps vs the file's f16 matrix`;
  return [
    { ...base, suite: 'quality', metric: 'q8_logit_nmse', value: sum > 0 ? err / sum : 0, unit: 'ratio', higherIsBetter: false, note },
    { ...base, suite: 'quality', metric: 'q8_top1_agreement', value: agree / job.driftSteps, unit: 'fraction', higherIsBetter: true, note },
  ];
}

export async function runBatchedJob(job: BatchedJob): Promise<JobAnswer> {
  const maxB = Math.max(...job.batches);
  const loaded = await load(job, { slots: maxB, context: job.promptTokens + job.steps + 2, maxBatchTokens: Math.max(maxB, job.promptTokens) });
  if ('unavailable' in loaded) return { results: [], skipped: [{ what: `${job.backend} ${job.shape} ${job.threads}t batched`, reason: loaded.unavailable }] };
  const { model, backend, source } = loaded;
  const results: BenchResult[] = [];
  const out = backend.alloc('i32', [model.maxBatchTokens]);
  const aggregate = new Map<number, number>();
  try {
    await prefill(model, 0, promptTokens(1, 1), 0, out);
    for (const b of job.batches) {
      const next = new Int32Array(b);
      for (let s = 0; s < b; s++) next[s] = await prefill(model, s, promptTokens(job.promptTokens, 100 + s), 0, out);
      const slots = seq(b);
      const rows = seq(b);
      const t0 = now();
      for (let i = 0; i < job.steps; i++) {
        const logits = model.forward({ tokens: next, positions: new Int32Array(b).fill(job.promptTokens + i), slots, logitsFor: rows });
        next.set(await argmaxRows(model, logits, out, b));
      }
      const secs = (now() - t0) / 1000;
      const base = { suite: 'batched' as const, engine: 'trine', backend: job.backend, shape: job.shape, threads: job.threads, batch: b };
      aggregate.set(b, (b * job.steps) / secs);
      results.push(
        { ...base, metric: 'aggregate_tokens_per_s', value: (b * job.steps) / secs, unit: 'tok/s', higherIsBetter: true, note: `${job.steps} steps` },
        { ...base, metric: 'per_sequence_tokens_per_s', value: job.steps / secs, unit: 'tok/s', higherIsBetter: true },
      );
    }
    // Each batch's aggregate as a multiple of batch 1's, both from this process (issue 23's target: ≥ 5× at batch 8).
    const single = aggregate.get(1);
    if (single)
      for (const [b, v] of aggregate)
        if (b > 1)
          results.push({ suite: 'batched', engine: 'trine', backend: job.backend, shape: job.shape, threads: job.threads, batch: b, metric: 'aggregate_vs_batch1', value: v / single, unit: '×', higherIsBetter: true, note: 'aggregate tok/s over batch 1, same process' });
    results.push({ suite: 'load', engine: 'trine', backend: job.backend, shape: job.shape, threads: job.threads, batch: maxB, metric: 'peak_rss_mb', value: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, unit: 'MiB', higherIsBetter: false, note: `${maxB} KV slots` });
    return { results, skipped: [], facts: { backendVariant: backend.info.variant } };
  } finally {
    backend.dispose(out);
    model.dispose();
    backend.destroy();
    await source.close();
  }
}
