/**
 * Serving suite: latency percentiles (time to first token, gaps between tokens, whole request) and aggregate
 * tokens/s at each concurrency level, on the same model file, backend and threads, three ways:
 * - `in-process`: core's Engine called directly (the same continuous batching, no RPC);
 * - `gateway`: the standalone server (`pnpm start`: gateway + engine thread in one process of its own, real gRPC
 *   over loopback);
 * - `distributed`: gateway and worker as separate processes with BullMQ/Redis between them, as deployed (a
 *   private redis-server on a free loopback port; skipped when `redis-server` is not installed).
 * The gateway and distributed ways are measured again through the gateway's OpenAI-compatible HTTP front (SSE, one
 * chunk per token) on the same processes: `gateway-http`, `distributed-http`; `http-hop` rows are HTTP minus gRPC
 * (the HTTP issue's target: ≤ 1 ms p50).
 * `queue-hop` rows are what the distributed path adds over in-process (the serving issue's target: ≤ 2 ms p50,
 * ≤ 10 ms p99) and over the standalone gateway (the queue alone: both serve gRPC from a process apart from the
 * client, so the difference is Redis, BullMQ and the worker process). Response caches are off.
 * Each concurrency level runs about `requestsPerLevel` requests (fewer on models too slow for that, see `level`):
 * `concurrency` clients, each sending its share one after another (closed loop: the level's first requests arrive
 * as one burst, later ones as earlier ones finish).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAMPLING, Engine } from '@trine/core';
import { loadBackend, parseBackendName } from '@trine/backends';
import type { JobAnswer, ServingJob } from '../jobs.js';
import type { BenchResult } from '../report/schema.js';

interface Sample {
  ttftMs: number;
  totalMs: number;
  tokens: number;
  /** Milliseconds between consecutive tokens as the caller received them. */
  gapsMs: number[];
}

/** Times one streamed request: `tokensPerMessage` yields how many tokens each message or event carried. */
async function timeStream(tokensPerMessage: AsyncIterable<number>): Promise<Sample> {
  const t0 = performance.now();
  let ttft = -1;
  let last = 0;
  let tokens = 0;
  const gapsMs: number[] = [];
  for await (const n of tokensPerMessage) {
    if (n === 0) continue;
    const t = performance.now();
    if (ttft < 0) ttft = t - t0;
    else gapsMs.push(t - last);
    // Tokens arriving together in one message: the later ones came with no gap.
    for (let i = 1; i < n; i++) gapsMs.push(0);
    last = t;
    tokens += n;
  }
  return { ttftMs: ttft < 0 ? performance.now() - t0 : ttft, totalMs: performance.now() - t0, tokens, gapsMs };
}

type OneRequest = () => Promise<Sample>;

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Untimed rounds before each level: at least this long (and 2 rounds), at most 200 rounds. */
const WARM_UP_MS = 1000;
/** A level stops sending new requests after this long once it has at least MIN_REQUESTS: on the large shapes a
 *  request takes seconds, and 256 of them at each level would stretch the nightly run by hours. */
const LEVEL_BUDGET_MS = 15_000;
const MIN_REQUESTS = 32;

/**
 * One concurrency level: untimed rounds at that concurrency first, for about a second (a server that has just
 * started pays for JIT and connection set-up: on the distributed path the first 32-stream round's TTFT p50 was
 * about twice the steady state, reached after ~10 rounds), then `concurrency` clients each sending their share of
 * `requests` one after another (fewer, down to MIN_REQUESTS in all, when the level runs past its time budget).
 */
async function level(concurrency: number, requests: number, request: OneRequest): Promise<{ samples: Sample[]; seconds: number }> {
  const warmUntil = performance.now() + WARM_UP_MS;
  for (let round = 0; round < 200 && (round < 2 || performance.now() < warmUntil); round++)
    await Promise.all(Array.from({ length: concurrency }, () => request()));
  const perClient = Math.ceil(requests / concurrency);
  const minPerClient = Math.ceil(Math.min(requests, MIN_REQUESTS) / concurrency);
  const samples: Sample[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perClient && (i < minPerClient || performance.now() - t0 < LEVEL_BUDGET_MS); i++) samples.push(await request());
  }));
  return { samples, seconds: (performance.now() - t0) / 1000 };
}

function summarize(job: ServingJob, variant: string, concurrency: number, r: { samples: Sample[]; seconds: number }): BenchResult[] {
  const base = { suite: 'serving' as const, engine: 'trine', backend: job.backend, variant, shape: job.shape, threads: job.threads, batch: concurrency };
  const ttft = r.samples.map((s) => s.ttftMs).sort((a, b) => a - b);
  const total = r.samples.map((s) => s.totalMs).sort((a, b) => a - b);
  const gaps = r.samples.flatMap((s) => s.gapsMs).sort((a, b) => a - b);
  const tokens = r.samples.reduce((a, s) => a + s.tokens, 0);
  const note = `${r.samples.length} requests × ≤${job.maxTokens} tokens`;
  const out: BenchResult[] = [];
  for (const p of [50, 95, 99]) {
    out.push({ ...base, metric: `ttft_p${p}_ms`, value: pct(ttft, p), unit: 'ms', higherIsBetter: false, note });
    if (gaps.length > 0) out.push({ ...base, metric: `per_token_p${p}_ms`, value: pct(gaps, p), unit: 'ms', higherIsBetter: false, note });
    out.push({ ...base, metric: `latency_p${p}_ms`, value: pct(total, p), unit: 'ms', higherIsBetter: false, note });
  }
  out.push({ ...base, metric: 'throughput_tokens_per_s', value: tokens / r.seconds, unit: 'tok/s', higherIsBetter: true, note });
  return out;
}

/** Every concurrency level of the job, one after another, through one way of making a request. */
async function measureLevels(job: ServingJob, variant: string, request: OneRequest): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const c of job.concurrency) out.push(...summarize(job, variant, c, await level(c, job.requestsPerLevel, request)));
  return out;
}

const PROMPT = 'The quick brown fox jumps over the lazy dog. Once upon a time';

async function inProcess(job: ServingJob): Promise<BenchResult[]> {
  const f = await loadBackend(parseBackendName(job.backend, 'backend'));
  if (f.factory === undefined) throw new Error(f.unavailable);
  const maxConc = Math.max(...job.concurrency);
  const engine = await Engine.load({ model: job.modelPath, backend: f.factory, threads: job.threads, maxBatch: maxConc, context: job.context, maxQueue: 1024 });
  try {
    const request: OneRequest = () =>
      timeStream((async function* () {
        for await (const e of engine.generate({ prompt: PROMPT, sampling: { ...DEFAULT_SAMPLING, maxTokens: job.maxTokens } })) yield e.type === 'token' ? 1 : 0;
      })());
    return await measureLevels(job, 'in-process', request);
  } finally {
    await engine.close();
  }
}

interface StreamMsg { tokens: unknown[]; done: boolean }
interface Client { stream(input: { prompt: string; maxTokens?: number; temperature?: number }): AsyncIterable<StreamMsg>; close?(): void }

/** The serving processes' settings: the job's model, backend and threads, a batch as large as the highest
 * concurrency, loopback on a free port, and no cache, auth or rate limit in the way of what is measured. */
function serverEnv(job: ServingJob): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TRINE_MODEL: job.modelPath,
    TRINE_BACKEND: job.backend,
    TRINE_THREADS: String(job.threads),
    TRINE_MAX_BATCH: String(Math.max(...job.concurrency)),
    TRINE_CONTEXT: String(job.context),
    TRINE_LISTEN: '127.0.0.1:0',
    TRINE_CACHE_TTL_MS: '0',
    TRINE_MAX_QUEUE: '1024',
    TRINE_API_KEYS: '',
    TRINE_RATE_LIMIT: '',
  };
}

async function throughGateway(job: ServingJob): Promise<BenchResult[]> {
  // Its own process, as `pnpm start` runs it: in the bench's process it shared the client's event loop, so the
  // comparison with the distributed path (gateway in a process of its own) counted a process hop as the queue's.
  return measureProcesses(job, 'gateway', [{ file: join(serverDist().gateway, 'standalone.js'), ready: 'serving' }], serverEnv(job));
}

async function loadClient(): Promise<new (o: { address: string }) => Client> {
  return ((await import('@trine/client' as string)) as { TrineClient: new (o: { address: string }) => Client }).TrineClient;
}

async function measureClient(job: ServingJob, variant: string, client: Client): Promise<BenchResult[]> {
  const request: OneRequest = () =>
    timeStream((async function* () {
      for await (const m of client.stream({ prompt: PROMPT, maxTokens: job.maxTokens, temperature: 0 })) yield m.tokens.length;
    })());
  return measureLevels(job, variant, request);
}

/**
 * One streamed completion through the OpenAI-compatible HTTP front (the gateway's TRINE_HTTP_LISTEN), timed as the
 * gRPC client is: the front sends one SSE chunk per token, so each chunk without a finish reason is one token.
 */
function httpStream(job: ServingJob, port: number): OneRequest {
  const url = `http://127.0.0.1:${port}/v1/completions`;
  const body = JSON.stringify({ prompt: PROMPT, max_tokens: job.maxTokens, temperature: 0, stream: true });
  return () =>
    timeStream((async function* () {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      const decoder = new TextDecoder();
      let buf = '';
      for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(bytes, { stream: true });
        let tokens = 0;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (frame.startsWith('data: {') && (JSON.parse(frame.slice(6)) as { choices: { finish_reason: string | null }[] }).choices[0]?.finish_reason === null) tokens++;
        }
        yield tokens;
      }
    })());
}

/** A Trine process (gateway or worker, from dist) that logs JSON lines; resolves once it logs `msg`, with its lines. */
function startProcess(file: string, env: NodeJS.ProcessEnv, msg: string, timeoutMs = 120_000): Promise<{ child: ChildProcess; lines: Record<string, unknown>[] }> {
  const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file}: no '${msg}' within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}): ${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          lines.push(line);
          if (line.msg === msg) {
            clearTimeout(timer);
            resolve({ child, lines });
          }
        } catch {
          // not a log line
        }
      }
    });
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => (clearTimeout(kill), resolve()));
    child.kill('SIGTERM');
  });
}

/** The folder holding the package.json of the package that `file` belongs to. */
function packageDir(file: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${file}`);
}

/** The workspace's apps folder: the bench drives the gateway and worker apps as processes and imports neither. */
export function appsDir(): string {
  return dirname(packageDir(fileURLToPath(import.meta.url)));
}

/** The gateway's and worker's dist folders (`pnpm build`), beside this app in the workspace. */
function serverDist(): { gateway: string; worker: string } {
  return { gateway: join(appsDir(), 'gateway', 'dist'), worker: join(appsDir(), 'worker', 'dist') };
}

/**
 * Starts the processes in order (each once it logs `ready`), measures through the gRPC port the last one logged,
 * then through its HTTP port (`<variant>-http`), on the same warm processes.
 */
async function measureProcesses(job: ServingJob, variant: string, processes: readonly { file: string; ready: string }[], env: NodeJS.ProcessEnv): Promise<BenchResult[]> {
  const children: ChildProcess[] = [];
  try {
    let port = NaN;
    let httpPort = NaN;
    for (const p of processes) {
      const started = await startProcess(p.file, env, p.ready);
      children.push(started.child);
      port = Number(started.lines.find((l) => typeof l.port === 'number')?.port ?? port);
      httpPort = Number(started.lines.find((l) => typeof l.httpPort === 'number' && l.httpPort > 0)?.httpPort ?? httpPort);
    }
    const client = new (await loadClient())({ address: `127.0.0.1:${port}` });
    let results: BenchResult[];
    try {
      results = await measureClient(job, variant, client);
    } finally {
      client.close?.();
    }
    if (Number.isFinite(httpPort)) results.push(...(await measureLevels(job, `${variant}-http`, httpStream(job, httpPort))));
    return results;
  } finally {
    for (const c of children.reverse()) await stopProcess(c);
  }
}

/** Gateway and worker as separate processes (their dist entry points), BullMQ on a private redis-server. */
async function throughQueue(job: ServingJob): Promise<BenchResult[]> {
  const { startRedis } = (await import('@trine/serving/dev/redis-server' as string)) as typeof import('@trine/serving/dev/redis-server');
  const redis = await startRedis();
  try {
    const { gateway, worker } = serverDist();
    return await measureProcesses(
      job,
      'distributed',
      [
        { file: join(worker, 'main.js'), ready: 'worker ready' },
        { file: join(gateway, 'main.js'), ready: 'gateway serving' },
      ],
      { ...serverEnv(job), REDIS_URL: redis.url },
    );
  } finally {
    await redis.stop();
  }
}

/** What the HTTP front adds over gRPC, on the same processes: `<variant>-http` minus `<variant>`. */
function httpHop(results: readonly BenchResult[]): BenchResult[] {
  const out: BenchResult[] = [];
  for (const h of results.filter((r) => r.variant?.endsWith('-http') && /^(ttft|per_token)_p(50|99)_ms$/.test(r.metric))) {
    const grpc = h.variant!.slice(0, -'-http'.length);
    const b = results.find((r) => r.variant === grpc && r.batch === h.batch && r.metric === h.metric);
    if (b) out.push({ ...h, variant: `http-hop vs ${grpc}`, metric: h.metric.replace(/_ms$/, '_added_ms'), value: h.value - b.value, note: `${h.variant} − ${grpc}` });
  }
  return out;
}

/** What the queue hop adds: distributed minus in-process, and minus the standalone gateway (gRPC excluded). */
function queueHop(results: readonly BenchResult[]): BenchResult[] {
  const out: BenchResult[] = [];
  const find = (variant: string, batch: number, metric: string) => results.find((r) => r.variant === variant && r.batch === batch && r.metric === metric);
  for (const d of results.filter((r) => r.variant === 'distributed' && /^(ttft|per_token)_p(50|99)_ms$/.test(r.metric))) {
    for (const against of ['in-process', 'gateway']) {
      const b = find(against, d.batch, d.metric);
      if (!b) continue;
      out.push({ ...d, variant: `queue-hop vs ${against}`, metric: d.metric.replace(/_ms$/, '_added_ms'), value: d.value - b.value, note: `distributed − ${against}` });
    }
  }
  return out;
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
  try {
    results.push(...(await throughQueue(job)));
  } catch (e) {
    skipped.push({ what: what('distributed'), reason: `gateway + Redis + worker could not start or serve: ${e instanceof Error ? e.message : String(e)}` });
  }
  results.push(...queueHop(results), ...httpHop(results));
  return { results, skipped };
}
