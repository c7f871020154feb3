/**
 * Serving suite: request latency percentiles (time to first token, whole request) and aggregate tokens/s at each
 * concurrency level, through the gRPC gateway (standalone mode: gateway + engine thread, real gRPC over loopback,
 * response cache off) and in-process through core's Engine (the same continuous batching, no RPC), on the same
 * model file, backend and threads. Each concurrency level runs `concurrency × requestsPerClient` requests.
 */
import { DEFAULT_SAMPLING, Engine, registerBackend } from '@trine/core';
import { backendFactory } from '../backends.js';
import type { JobAnswer, ServingJob } from '../jobs.js';
import type { BenchResult } from '../report/schema.js';

interface Sample {
  ttftMs: number;
  totalMs: number;
  tokens: number;
}

type OneRequest = () => Promise<Sample>;

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function level(concurrency: number, perClient: number, request: OneRequest): Promise<{ samples: Sample[]; seconds: number }> {
  const samples: Sample[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perClient; i++) samples.push(await request());
  }));
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

function summarize(job: ServingJob, variant: string, concurrency: number, r: { samples: Sample[]; seconds: number }): BenchResult[] {
  const base = { suite: 'serving' as const, engine: 'trine', backend: job.backend, variant, shape: job.shape, threads: job.threads, batch: concurrency };
  const ttft = r.samples.map((s) => s.ttftMs).sort((a, b) => a - b);
  const total = r.samples.map((s) => s.totalMs).sort((a, b) => a - b);
  const tokens = r.samples.reduce((a, s) => a + s.tokens, 0);
  const note = `${r.samples.length} requests × ≤${job.maxTokens} tokens`;
  const out: BenchResult[] = [];
  for (const p of [50, 95, 99]) {
    out.push({ ...base, metric: `ttft_p${p}_ms`, value: pct(ttft, p), unit: 'ms', higherIsBetter: false, note });
    out.push({ ...base, metric: `latency_p${p}_ms`, value: pct(total, p), unit: 'ms', higherIsBetter: false, note });
  }
  out.push({ ...base, metric: 'throughput_tokens_per_s', value: tokens / r.seconds, unit: 'tok/s', higherIsBetter: true, note });
  return out;
}

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';

async function inProcess(job: ServingJob): Promise<BenchResult[]> {
  const f = await backendFactory(job.backend);
  if ('unavailable' in f) throw new Error(f.unavailable);
  registerBackend(f.factory);
  const maxConc = Math.max(...job.concurrency);
  const engine = await Engine.load({ model: job.modelPath, backend: job.backend, threads: job.threads, maxBatch: maxConc, context: job.context, maxBatchTokens: 64, maxQueue: 1024 });
  try {
    const request: OneRequest = async () => {
      const t0 = performance.now();
      let ttft = -1;
      let tokens = 0;
      for await (const e of engine.generate({ prompt: PROMPT, sampling: { ...DEFAULT_SAMPLING, maxTokens: job.maxTokens } })) {
        if (e.type === 'token') {
          if (ttft < 0) ttft = performance.now() - t0;
          tokens++;
        }
      }
      return { ttftMs: ttft < 0 ? performance.now() - t0 : ttft, totalMs: performance.now() - t0, tokens };
    };
    await request(); // warm-up
    const out: BenchResult[] = [];
    for (const c of job.concurrency) out.push(...summarize(job, 'in-process', c, await level(c, c === 1 ? job.requestsAtOne : 1, request)));
    return out;
  } finally {
    await engine.close();
  }
}

interface StreamMsg { tokens: unknown[]; done: boolean }
interface Client { stream(input: { prompt: string; maxTokens?: number; temperature?: number }): AsyncIterable<StreamMsg>; close?(): void }

async function throughGateway(job: ServingJob): Promise<BenchResult[]> {
  const gateway = (await import('@trine/gateway' as string)) as { startStandalone(env: NodeJS.ProcessEnv): Promise<{ port: number; stop(graceMs?: number): Promise<void> }> };
  const clientMod = (await import('@trine/client' as string)) as { TrineClient: new (o: { address: string }) => Client };
  const maxConc = Math.max(...job.concurrency);
  const running = await gateway.startStandalone({
    ...process.env,
    TRINE_MODEL: job.modelPath,
    TRINE_BACKEND: job.backend,
    TRINE_THREADS: String(job.threads),
    TRINE_MAX_BATCH: String(maxConc),
    TRINE_CONTEXT: String(job.context),
    TRINE_LISTEN: '127.0.0.1:0',
    TRINE_CACHE_TTL_MS: '0',
    TRINE_MAX_QUEUE: '1024',
    TRINE_API_KEYS: '',
    TRINE_RATE_LIMIT: '',
  });
  const client = new clientMod.TrineClient({ address: `127.0.0.1:${running.port}` });
  try {
    const request: OneRequest = async () => {
      const t0 = performance.now();
      let ttft = -1;
      let tokens = 0;
      for await (const m of client.stream({ prompt: PROMPT, maxTokens: job.maxTokens, temperature: 0 })) {
        if (m.tokens.length > 0 && ttft < 0) ttft = performance.now() - t0;
        tokens += m.tokens.length;
      }
      return { ttftMs: ttft < 0 ? performance.now() - t0 : ttft, totalMs: performance.now() - t0, tokens };
    };
    await request();
    const out: BenchResult[] = [];
    for (const c of job.concurrency) out.push(...summarize(job, 'gateway', c, await level(c, c === 1 ? job.requestsAtOne : 1, request)));
    return out;
  } finally {
    client.close?.();
    await running.stop(1000);
  }
}

export async function runServingJob(job: ServingJob): Promise<JobAnswer> {
  const results: BenchResult[] = [];
  const skipped: { what: string; reason: string }[] = [];
  const what = (v: string) => `serving ${v} ${job.backend} ${job.shape} ${job.threads}t`;
  try {
    results.push(...(await inProcess(job)));
  } catch (e) {
    skipped.push({ what: what('in-process'), reason: e instanceof Error ? e.message : String(e) });
  }
  try {
    results.push(...(await throughGateway(job)));
  } catch (e) {
    skipped.push({ what: what('gateway'), reason: `gateway could not start or serve: ${e instanceof Error ? e.message : String(e)}` });
  }
  return { results, skipped };
}
