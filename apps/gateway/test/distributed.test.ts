/**
 * Gateway + Redis + worker on loopback, all real: a redis-server started here, a worker process (its job counts
 * read from its metrics endpoint), the distributed gateway, and the in-process Engine as the reference for
 * expected tokens.
 */
import { status } from '@grpc/grpc-js';
import { Engine, referenceBackendFactory } from '@trine/core';
import type { StreamEvent } from '@trine/serving';
import type { GenerateStreamResponse } from '@trine/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributedGateway, type Running } from '../src/index.js';
import { RedisJobQueue } from '../src/redis-queue.js';
import { client, collect, expectStatus, generate, metadata, req, streamTokens } from './support/grpc.js';
import { startMeteredWorker, type MeteredWorker } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

let redis: RedisServer;
let worker: MeteredWorker;
let gw: Running;
let strict: Running;
let engine: Engine;

async function expected(prompt: string, maxTokens: number, seed: number, temperature: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const e of engine.generate({ prompt, sampling: { maxTokens, temperature, topP: 1, topK: 0, repetitionPenalty: 1, seed, stop: [], topLogprobs: 0 } }))
    if (e.type === 'token') ids.push(e.tokenId);
  return ids;
}

beforeAll(async () => {
  redis = await startRedis();
  [engine, worker] = await Promise.all([
    Engine.load({ backend: referenceBackendFactory, maxBatch: 8 }),
    startMeteredWorker({ REDIS_URL: redis.url, TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '8' }),
  ]);
  const base = { REDIS_URL: redis.url, TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference' };
  [gw, strict] = await Promise.all([
    startDistributedGateway({ ...base, TRINE_API_KEYS: 'k1,k2', TRINE_MAX_QUEUE: '100', TRINE_POLICY_BLOCKLIST: 'forbiddenword' }),
    startDistributedGateway({ ...base, TRINE_API_KEYS: 'k1,k2,k3', TRINE_MAX_QUEUE: '2', TRINE_RATE_LIMIT: '3/60', TRINE_CACHE_TTL_MS: '0' }),
  ]);
}, 120_000);

afterAll(async () => {
  await gw?.stop(1000);
  await strict?.stop(1000);
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited();
  }
  await engine?.close();
  await redis?.stop();
});

const md = metadata('k1');

describe('distributed: gateway → BullMQ/Redis → worker', () => {
  it('streams the same tokens as the in-process engine for the same seed', async () => {
    const c = client(gw.port);
    const msgs = await collect(c, req({ prompt: 'Once upon a time', maxTokens: 16, temperature: 0.9, seed: 1234n }), md);
    const got = streamTokens(msgs);
    expect(got.ids).toEqual(await expected('Once upon a time', 16, 1234, 0.9));
    expect(got.indexes).toEqual(got.ids.map((_, i) => i));
    const last = msgs.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.usage?.outputTokens).toBe(got.ids.length);
    expect(last.cached).toBe(false);
    c.close();
  });

  it('64 concurrent streams: no token lost, duplicated or reordered', async () => {
    const c = client(gw.port);
    const n = 64;
    const results = await Promise.all(
      Array.from({ length: n }, (_, k) => collect(c, req({ prompt: `stream ${k}`, maxTokens: 6, temperature: 1, seed: BigInt(k) }), md)),
    );
    // The in-process engine batches these too, so computing the references is cheap.
    const want = await Promise.all(Array.from({ length: n }, (_, k) => expected(`stream ${k}`, 6, k, 1)));
    for (let k = 0; k < n; k++) {
      const msgs = results[k]!;
      const got = streamTokens(msgs);
      expect(got.restarts).toBe(0);
      // Indexes over every message, not reset: each token exactly once, in order.
      expect(msgs.flatMap((m) => m.tokens.map((t) => t.index))).toEqual(got.ids.map((_, i) => i));
      expect(got.ids).toEqual(want[k]);
      expect(msgs.filter((m) => m.done)).toHaveLength(1);
    }
    c.close();
  });

  it('survives a Redis connection blip mid-stream: every client connection dropped, no token lost or repeated', async () => {
    const c = client(gw.port);
    const s = c.generateStream(req({ prompt: 'blip', maxTokens: 48, temperature: 1, seed: 77n }), md);
    const msgs: GenerateStreamResponse[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      s.on('data', (m: GenerateStreamResponse) => msgs.push(m));
      s.on('end', resolve);
      s.on('error', reject);
    });
    await until(() => msgs.length >= 4);
    const admin = new Redis(redis.url);
    const killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    admin.disconnect();
    expect(Number(killed)).toBeGreaterThan(0);
    await ended;
    const ids = msgs.flatMap((m) => m.tokens.map((t) => t.id));
    expect(msgs.flatMap((m) => m.tokens.map((t) => t.index))).toEqual(ids.map((_, i) => i));
    expect(ids).toEqual(await expected('blip', 48, 77, 1));
    expect(msgs.at(-1)!.done).toBe(true);
    c.close();
  });

  it('answers a deterministic request from the cache the second time, marked cached', async () => {
    const c = client(gw.port);
    const r = req({ prompt: 'cache me', maxTokens: 5, temperature: 0 });
    const a = await generate(c, r, md);
    const hitsBefore = gw.server.metrics.cacheHits;
    const b = await generate(c, r, md);
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(true);
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(b.text).toBe(a.text);
    expect(gw.server.metrics.cacheHits).toBe(hitsBefore + 1);
    c.close();
  });

  it('client cancel stops the job on the worker', async () => {
    const c = client(gw.port);
    const before = (await worker.jobs()).cancelled;
    const s = c.generateStream(req({ prompt: 'cancel me', maxTokens: 400, temperature: 1, seed: 9n }), md);
    let seen = 0;
    const ended = new Promise<number>((resolve) => {
      s.on('data', () => {
        if (++seen === 2) s.cancel();
      });
      s.on('error', (e: { code: number }) => resolve(e.code));
    });
    expect(await ended).toBe(status.CANCELLED);
    await until(async () => (await worker.jobs()).cancelled === before + 1 && (await worker.jobs()).active === 0);
    expect((await worker.jobs()).cancelled).toBe(before + 1);
    c.close();
  });

  it('deadline: DEADLINE_EXCEEDED at the client, and the worker stops', async () => {
    const c = client(gw.port);
    const stopped = async (): Promise<number> => ((j) => j.expired + j.cancelled)(await worker.jobs());
    const stoppedBefore = await stopped();
    const e = await expectStatus(collect(c, req({ prompt: 'deadline', maxTokens: 400, temperature: 1, seed: 3n }), md, 400));
    expect(e.code).toBe(status.DEADLINE_EXCEEDED);
    await until(async () => (await stopped()) > stoppedBefore && (await worker.jobs()).active === 0);
    expect((await worker.jobs()).active).toBe(0);
    c.close();
  });

  it('a job whose deadline passed never starts', async () => {
    const queue = new RedisJobQueue(redis.url);
    const requestId = `expired-${Date.now()}`;
    const before = (await worker.jobs()).started;
    await queue.submit({
      requestId,
      model: '',
      request: { prompt: 'late', sampling: { maxTokens: 4, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, seed: 1, stop: [], topLogprobs: 0 } },
      deadline: Date.now() - 1,
      acceptedAt: Date.now() - 10,
      trace: {},
    });
    const events: StreamEvent[] = [];
    const ac = new AbortController();
    for await (const batch of queue.events(requestId, ac.signal)) {
      events.push(...batch);
      if (batch.some((e) => e.t === 'err' || e.t === 'done')) break;
    }
    expect(events.map((e) => e.t)).toEqual(['err']);
    expect(events[0]!.t === 'err' && events[0]!.error.code).toBe('DEADLINE_EXCEEDED');
    expect((await worker.jobs()).started).toBe(before + 1);
    await queue.close();
  });

  it('rate limit per key (sliding window in Redis): the 4th call in the window is refused', async () => {
    const c = client(strict.port);
    for (let i = 0; i < 3; i++) await generate(c, req({ prompt: `rate ${i}`, maxTokens: 1 }), metadata('k3'));
    const e = await expectStatus(generate(c, req({ prompt: 'rate 3', maxTokens: 1 }), metadata('k3')));
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(e.details).toMatch(/rate limit/);
    c.close();
  });

  it('overload: past the queue bound, RESOURCE_EXHAUSTED at once', async () => {
    const c = client(strict.port);
    const long = (k: number) => c.generateStream(req({ prompt: `hold ${k}`, maxTokens: 300, temperature: 1, seed: BigInt(k) }), metadata('k1'));
    const held = [long(1), long(2)];
    const started = held.map((s) => new Promise<void>((resolve) => s.once('data', () => resolve())));
    held.forEach((s) => s.on('error', () => undefined));
    await Promise.all(started);
    const e = await expectStatus(collect(c, req({ prompt: 'one more', maxTokens: 4 }), metadata('k1')));
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(e.details).toMatch(/queue is full/);
    expect(strict.server.metrics.rejections.overload).toBeGreaterThan(0);
    held.forEach((s) => s.cancel());
    await until(async () => (await worker.jobs()).active === 0);
    c.close();
  });

  it('unauthenticated calls are refused', async () => {
    const c = client(gw.port);
    const none = await expectStatus(generate(c, req({ prompt: 'hi', maxTokens: 1 }), metadata()));
    expect(none.code).toBe(status.UNAUTHENTICATED);
    const wrong = await expectStatus(generate(c, req({ prompt: 'hi', maxTokens: 1 }), metadata('nope')));
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    const ok = await generate(c, req({ prompt: 'hi', maxTokens: 1 }), metadata('k2'));
    expect(ok.usage?.outputTokens).toBeLessThanOrEqual(1);
    c.close();
  });

  it('content policy: a blocked prompt ends with PERMISSION_DENIED and a reason, counted', async () => {
    const c = client(gw.port);
    const before = gw.server.metrics.rejections.policy;
    const e = await expectStatus(generate(c, req({ prompt: 'say ForbiddenWord now', maxTokens: 2 }), md));
    expect(e.code).toBe(status.PERMISSION_DENIED);
    expect(e.details).toMatch(/prompt contains a blocked term/);
    expect(gw.server.metrics.rejections.policy).toBe(before + 1);
    c.close();
  });
});

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
