/**
 * The fault and load scenarios of the hardening suite as plain functions returning their figures: the vitest files
 * assert on them with CI-sized parameters, and scripts/hardening-long.ts runs them longer. No vitest import here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { BackendFactory, Engine } from '@trine/core';
import { keys, type StreamEvent } from '@trine/serving';
import type { GenerateStreamResponse, InferenceClient } from '@trine/proto';
import { Redis } from 'ioredis';
import { startDistributedGateway } from '../../src/index.js';
import { client, expectStatus, generate, metadata, req } from '../support/grpc.js';
import type { Proc } from '../support/processes.js';
import { freePort, startRedis } from '../support/redis-server.js';
import { audit, expectedMany, kill, sleep, startWorkerProcess, watch, type Watched } from './harness.js';

export interface Backend {
  readonly name: 'cpu' | 'reference';
  readonly factory: BackendFactory;
}

export interface Ctx {
  readonly backend: Backend;
  /** In-process engine on the same backend: the oracle for every stream's tokens. */
  readonly engine: Engine;
  /** Every worker process started, so the caller can kill leftovers. */
  readonly procs: Proc[];
}

export const alive = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;
const ready = (p: Proc): boolean => alive(p) && p.logs.some((l) => l.msg === 'worker ready');

function worker(ctx: Ctx, redisUrl: string, env: Record<string, string> = {}): Proc {
  const p = startWorkerProcess({ REDIS_URL: redisUrl, TRINE_BACKEND: ctx.backend.name, ...env });
  ctx.procs.push(p);
  return p;
}

export const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0;
};

const seedOf = (i: number): number => 1000 + i;

/** K streams with distinct prompts and seeds, each with a deadline (a hang shows as DEADLINE_EXCEEDED). */
export function startStreams(c: InferenceClient, k: number, maxTokens: number, tag: string, deadlineMs: number): Watched[] {
  return Array.from({ length: k }, (_, i) =>
    watch(c.generateStream(req({ prompt: `${tag} ${i}`, maxTokens, temperature: 1, seed: BigInt(seedOf(i)) }), metadata(), { deadline: Date.now() + deadlineMs }) as ClientReadableStream<GenerateStreamResponse>),
  );
}

export interface AuditTotals {
  ok: number;
  /** Streams that did not end OK with a final `done` message. */
  notOk: number;
  lost: number;
  dup: number;
  reordered: number;
  wrong: number;
  restarts: number;
  tokens: number;
  /** Final status names of the streams that did not complete. */
  codes: Record<string, number>;
  /** Streams that ended by their deadline (a hang). */
  hung: number;
  /** Distinct error messages of those streams (request ids elided), for the report. */
  details: string[];
}

/** Waits for every stream and audits each against the oracle's tokens for its prompt and seed. */
export async function auditAll(engine: Engine, streams: readonly Watched[], tag: string, maxTokens: number): Promise<AuditTotals> {
  const ends = await Promise.all(streams.map((s) => s.ended));
  const want = await expectedMany(engine, streams.map((_, i) => ({ prompt: `${tag} ${i}`, maxTokens, seed: seedOf(i) })));
  const t: AuditTotals = { ok: 0, notOk: 0, lost: 0, dup: 0, reordered: 0, wrong: 0, restarts: 0, tokens: 0, codes: {}, hung: 0, details: [] };
  streams.forEach((s, i) => {
    const e = ends[i]!;
    const a = audit(s.msgs, want[i]!);
    if (e.ok && a.done) t.ok++;
    else {
      t.notOk++;
      const name = e.ok ? 'OK_WITHOUT_DONE' : (status[e.error.code] ?? String(e.error.code));
      t.codes[name] = (t.codes[name] ?? 0) + 1;
      if (!e.ok && e.error.code === status.DEADLINE_EXCEEDED) t.hung++;
      const detail = e.ok ? 'no done message' : e.error.details.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>');
      if (!t.details.includes(detail)) t.details.push(detail);
    }
    t.lost += a.lost;
    t.dup += a.dup;
    t.reordered += a.reordered;
    t.wrong += a.wrong;
    t.restarts += a.restarts;
    t.tokens += s.tokens();
  });
  return t;
}

/** What the event logs in Redis show about re-runs: per re-run job, the worker-stamped resume gap; re-generated tokens. */
async function rerunFigures(redis: Redis, killTimes: readonly number[]): Promise<{ gaps: number[]; fromKill: number[]; regenerated: number; maxAttempt: number }> {
  const gaps: number[] = [];
  const fromKill: number[] = [];
  let regenerated = 0;
  let maxAttempt = 0;
  for (const key of await redis.keys(keys.stream('*'))) {
    const evs = ((await redis.xrange(key, '-', '+')) as [string, string[]][]).map(([, f]) => JSON.parse(f[1]!) as StreamEvent);
    let prev: { at: number; attempt: number } | undefined;
    const seen = new Set<number>();
    for (const e of evs) {
      maxAttempt = Math.max(maxAttempt, e.attempt);
      if (e.t !== 'tok') continue;
      if (seen.has(e.i)) regenerated++;
      seen.add(e.i);
      if (prev && e.attempt > prev.attempt) {
        gaps.push(e.at - prev.at);
        // The kill that interrupted it: the last one before the previous attempt's next token would have come.
        const k = killTimes.filter((t) => t >= prev!.at && t <= e.at).at(-1);
        if (k !== undefined) fromKill.push(e.at - k);
      }
      prev = { at: e.at, attempt: e.attempt };
    }
  }
  return { gaps, fromKill, regenerated, maxAttempt };
}

export interface WorkerKillOptions {
  readonly jobs: number;
  readonly maxTokens: number;
  readonly workers: number;
  readonly killEveryMs: number;
  readonly maxKills: number;
  readonly deadlineMs: number;
  /** TRINE_MAX_STALLED_COUNT for the workers (default: maxKills, which no job can exceed). */
  readonly maxStalledCount?: number;
}

/**
 * Worker processes SIGKILLed every `killEveryMs` while `jobs` streams run; each victim is replaced by a fresh
 * worker. A worker is killed only while another ready one survives, so the resume time measures recovery (lock
 * expiry + stalled check + re-prefill), not the start-up of a whole pool.
 */
export async function workerKillScenario(ctx: Ctx, o: WorkerKillOptions) {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const gw = await startDistributedGateway({ REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: ctx.backend.name, TRINE_CACHE_TTL_MS: '0', TRINE_MAX_QUEUE: String(o.jobs * 2) });
  const c = client(gw.port);
  try {
    // The poison-pill guard (a job whose worker died more than TRINE_MAX_STALLED_COUNT times fails for good, default
    // 2) is set to the number of kills, which no job can exceed: any job that does not complete is then a real loss.
    const maxStalled = o.maxStalledCount ?? o.maxKills;
    const workerEnv = { TRINE_MAX_STALLED_COUNT: String(maxStalled) };
    let pool = Array.from({ length: o.workers }, () => worker(ctx, redis.url, workerEnv));
    await Promise.all(pool.map((w) => w.waitFor('worker ready', 90_000)));
    const t0 = performance.now();
    const streams = startStreams(c, o.jobs, o.maxTokens, 'kill', o.deadlineMs);
    let finished = false;
    const all = Promise.all(streams.map((s) => s.ended)).then(() => (finished = true));
    const killTimes: number[] = [];
    while (!finished && killTimes.length < o.maxKills) {
      await Promise.race([sleep(o.killEveryMs), all]);
      if (finished) break;
      if (pool.filter(ready).length < 2) continue;
      // The oldest ready worker: with more jobs queued than slots, every ready worker holds a full batch.
      const victim = pool.find(ready)!;
      victim.child.kill('SIGKILL');
      killTimes.push(Date.now());
      pool = [...pool.filter((p) => p !== victim), worker(ctx, redis.url, workerEnv)];
    }
    await all;
    const seconds = (performance.now() - t0) / 1000;
    const r = await auditAll(ctx.engine, streams, 'kill', o.maxTokens);
    const rr = await rerunFigures(admin, killTimes);
    // Why BullMQ failed any job for good (e.g. 'job stalled more than allowable limit').
    const failedIds = await admin.zrange(`${keys.prefix}:${keys.queueName}:failed`, '0', '-1');
    const failedReasons = [...new Set(await Promise.all(failedIds.map(async (id) => (await admin.hget(`${keys.prefix}:${keys.queueName}:${id}`, 'failedReason')) ?? '?')))];
    const m = gw.server.metrics;
    kill(pool);
    return {
      figures: {
        backend: ctx.backend.name,
        jobs: o.jobs,
        max_tokens: o.maxTokens,
        workers: o.workers,
        kills: killTimes.length,
        kill_every_ms: o.killEveryMs,
        lock_ms: 1000,
        completed: r.ok,
        jobs_lost: r.notOk,
        lost_tokens: r.lost,
        regenerated_tokens_in_redis: rr.regenerated,
        dup_tokens_to_clients: r.dup,
        reordered: r.reordered,
        wrong: r.wrong,
        restart_markers: r.restarts,
        gw_restarts_continued: m.restartsContinued,
        gw_restarts_signalled: m.restartsSignalled,
        jobs_rerun: rr.gaps.length,
        max_attempt: rr.maxAttempt,
        resume_gap_p50_ms: pct(rr.gaps, 0.5),
        resume_gap_max_ms: pct(rr.gaps, 1),
        resume_from_kill_p50_ms: pct(rr.fromKill, 0.5),
        resume_from_kill_max_ms: pct(rr.fromKill, 1),
        load_s: seconds,
        max_stalled_count: maxStalled,
        failures: JSON.stringify(r.codes),
        failure_details: JSON.stringify(r.details),
        bullmq_failed: failedIds.length,
        bullmq_failed_reasons: JSON.stringify(failedReasons),
      },
      totals: r,
      kills: killTimes.length,
      rerun: rr.gaps.length,
    };
  } finally {
    c.close();
    await gw.stop(500);
    admin.disconnect();
    await redis.stop();
  }
}

export interface RedisRestartOptions {
  readonly jobs: number;
  readonly maxTokens: number;
  readonly workers: number;
  /** How long Redis stays down. */
  readonly downMs: number;
  readonly deadlineMs: number;
}

interface Probe {
  readonly rpc: string;
  readonly ms: number;
  readonly code: string;
}

/** Runs one call, returning its status name ('OK' or the gRPC code) and its latency. */
async function probe(rpc: string, call: () => Promise<unknown>): Promise<Probe> {
  const t0 = performance.now();
  const code = await call().then(
    () => 'OK',
    (e: ServiceError) => status[e.code] ?? String(e.code),
  );
  return { rpc, ms: performance.now() - t0, code };
}

function tokenize(c: InferenceClient, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => c.tokenize({ model: '', text, chat: false } as never, metadata(), { deadline: Date.now() + 5_000 }, (e, v) => (e ? reject(e) : resolve(v))));
}

function listModels(c: InferenceClient): Promise<unknown> {
  return new Promise((resolve, reject) => c.listModels({}, metadata(), { deadline: Date.now() + 5_000 }, (e, v) => (e ? reject(e) : resolve(v))));
}

function firstMessage(c: InferenceClient): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = c.generateStream(req({ prompt: 'while down (stream)', maxTokens: 1 }), metadata(), { deadline: Date.now() + 5_000 });
    s.on('data', () => resolve(undefined));
    s.on('end', () => resolve(undefined));
    s.on('error', reject);
  });
}

/**
 * Redis crashes (SIGKILL) while `jobs` streams run and comes back after `downMs` with its AOF (the production
 * setting), under a gateway configured as deployed: rate limits and the response cache on, so both of its Redis
 * connections are exercised. While Redis is down every RPC is probed in turn.
 */
export async function redisRestartScenario(ctx: Ctx, o: RedisRestartOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'trine-hardening-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const startServer = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
    const p = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    p.on('error', () => undefined);
    for (let i = 0; i < 400; i++) {
      if (await p.connect().then(() => p.ping(), () => undefined)) break;
      await sleep(25);
    }
    p.disconnect();
    return child;
  };
  const stopServer = (child: ChildProcess): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL'); // a crash, not a clean shutdown
    });
  let server = await startServer();
  const gw = await startDistributedGateway({
    REDIS_URL: url,
    TRINE_LISTEN: '127.0.0.1:0',
    TRINE_BACKEND: ctx.backend.name,
    TRINE_MAX_QUEUE: String(o.jobs * 2),
    TRINE_RATE_LIMIT: '100000/60',
    TRINE_CACHE_TTL_MS: '60000',
  });
  const c = client(gw.port);
  try {
    const pool = Array.from({ length: o.workers }, () => worker(ctx, url));
    await Promise.all(pool.map((w) => w.waitFor('worker ready', 90_000)));
    const streams = startStreams(c, o.jobs, o.maxTokens, 'redis', o.deadlineMs);
    // Down once the load runs: some jobs mid-stream, some waiting.
    while (streams.filter((s) => s.tokens() > 0).length < Math.min(8, o.jobs)) await sleep(10);
    const midStream = streams.filter((s) => s.tokens() > 0).length;
    await stopServer(server);
    const downAt = performance.now();
    const probes: Probe[] = [];
    const calls: [string, () => Promise<unknown>][] = [
      // temperature 0: deterministic, so the cache is consulted (on the gateway's second connection) first.
      ['Generate', () => generate(c, req({ prompt: 'while down', maxTokens: 1, temperature: 0 }), metadata(), 5_000)],
      ['GenerateStream', () => firstMessage(c)],
      ['Tokenize', () => tokenize(c, 'while down')],
      ['ListModels', () => listModels(c)],
    ];
    for (let i = 0; performance.now() - downAt < o.downMs; i++) {
      const [rpc, call] = calls[i % calls.length]!;
      probes.push(await probe(rpc, call));
      await sleep(100);
    }
    server = await startServer();
    const upAt = performance.now();
    const ends = await Promise.all(streams.map((s) => s.ended));
    const allEndedMs = performance.now() - upAt;
    void ends;
    const after = await probe('Generate', () => generate(c, req({ prompt: 'after restart', maxTokens: 2 }), metadata(), 30_000));
    const r = await auditAll(ctx.engine, streams, 'redis', o.maxTokens);
    kill(pool);
    const of = (rpc: string): Probe[] => probes.filter((p) => p.rpc === rpc);
    const needsRedis = probes.filter((p) => p.rpc === 'Generate' || p.rpc === 'GenerateStream');
    const local = probes.filter((p) => p.rpc === 'Tokenize' || p.rpc === 'ListModels');
    return {
      figures: {
        backend: ctx.backend.name,
        jobs: o.jobs,
        mid_stream_at_crash: midStream,
        down_ms: Math.round(upAt - downAt),
        probes_while_down: probes.length,
        generate_unavailable: `${needsRedis.filter((p) => p.code === 'UNAVAILABLE').length}/${needsRedis.length}`,
        generate_p50_ms: pct(needsRedis.map((p) => p.ms), 0.5),
        generate_max_ms: pct(needsRedis.map((p) => p.ms), 1),
        generate_codes: [...new Set(needsRedis.map((p) => p.code))].join('/'),
        tokenize_codes: [...new Set(of('Tokenize').map((p) => p.code))].join('/'),
        listmodels_codes: [...new Set(of('ListModels').map((p) => p.code))].join('/'),
        local_max_ms: pct(local.map((p) => p.ms), 1),
        completed: r.ok,
        failed_explicit: r.notOk - r.hung,
        hung: r.hung,
        failures: JSON.stringify(r.codes),
        lost_tokens: r.lost,
        dup_tokens: r.dup,
        wrong: r.wrong,
        restart_markers: r.restarts,
        all_ended_after_restart_ms: Math.round(allEndedMs),
        served_after: after.code,
      },
      probes,
      totals: r,
      after,
    };
  } finally {
    c.close();
    await gw.stop(500);
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` concurrent streams through a gateway on `port`, audited: the load figures. */
export async function streamsRound(engine: Engine, port: number, n: number, maxTokens: number, tag: string, deadlineMs: number) {
  const c = client(port);
  const t0 = performance.now();
  const streams = startStreams(c, n, maxTokens, tag, deadlineMs);
  await Promise.all(streams.map((s) => s.ended));
  const seconds = (performance.now() - t0) / 1000;
  const r = await auditAll(engine, streams, tag, maxTokens);
  c.close();
  return { ...r, seconds };
}

export { expectStatus };
