/**
 * The engine thread running queued jobs on a real redis-server (reference backend): what a worker's lost lock and
 * its retry look like from the thread's side.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../src/dev/redis-server.js';
import { EngineHost } from '../src/engine-host.js';
import { keys, type InferenceJob, type StreamEvent } from '../src/protocol.js';

let redis: RedisServer;
let host: EngineHost;

beforeAll(async () => {
  redis = await startRedis();
  host = await EngineHost.start({ backend: 'reference', maxBatch: 8 });
  await host.connectQueue(redis.url);
}, 120_000);

afterAll(async () => {
  await host?.close();
  await redis?.stop();
});

describe('EngineHost.runQueued', () => {
  it('one request run twice on one worker (a lost lock\'s run and its retry): a stop reaches only its own run', async () => {
    const requestId = `twice-${Date.now()}`;
    const sampling = { maxTokens: 300, temperature: 1, topP: 1, topK: 0, repetitionPenalty: 1, seed: 5, stop: [], topLogprobs: 0 };
    const job: InferenceJob = { requestId, model: '', request: { prompt: 'twice', sampling }, deadline: Date.now() + 60_000, acceptedAt: Date.now(), trace: {} };
    const lost = new AbortController();
    const retry = new AbortController();
    const first = host.runQueued(job, 'test', lost.signal);
    const second = host.runQueued({ ...job, request: { prompt: 'twice', sampling: { ...sampling, maxTokens: 8 } } }, 'test', retry.signal);
    lost.abort('lock-lost');
    const [a, b] = await Promise.all([first, second]);
    expect(a.outcome).toBe('handed-back');
    expect(b.outcome).toBe('done');
    expect([a.attempt, b.attempt].sort()).toEqual([1, 2]);
    const admin = new Redis(redis.url);
    const log = (await admin.xrange(keys.stream(requestId), '-', '+')).map(([, f]) => JSON.parse(f[1]!) as StreamEvent);
    admin.disconnect();
    // The retry wrote its whole run; the stopped run never finished.
    expect(log.filter((e) => e.t === 'done').map((e) => e.attempt)).toEqual([b.attempt]);
    expect(log.filter((e) => e.t === 'tok' && e.attempt === b.attempt)).toHaveLength(8);
  });
});
