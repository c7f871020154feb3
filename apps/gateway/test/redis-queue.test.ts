/**
 * The distributed queue's Redis paths on a real redis-server: admission and enqueueing in one round trip, the shared
 * reader that follows every request stream with one blocking XREAD, and a quiet request's watchdog during an outage.
 */
import { keys, type InferenceJob, type StreamEvent } from '@trine/serving';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisJobQueue } from '../src/redis-queue.js';
import { StreamReader } from '../src/stream-reader.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

let redis: RedisServer;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

const job = (requestId: string): InferenceJob => ({
  requestId,
  model: '',
  request: { prompt: 'x', sampling: { maxTokens: 1, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, seed: 1, stop: [], topLogprobs: 0 } },
  deadline: Date.now() + 60_000,
  acceptedAt: Date.now(),
  trace: {},
});

const tok = (i: number): StreamEvent => ({ t: 'tok', attempt: 1, i, id: i, text: String(i), at: 0 });

describe('RedisJobQueue.submit', () => {
  it('admits exactly up to the bound under concurrent submits, and a refusal leaves nothing behind', async () => {
    const queue = new RedisJobQueue(redis.url);
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `admit-${i}`);
      const admitted = await Promise.all(ids.map((id) => queue.submit(job(id), 5)));
      expect(admitted.filter(Boolean).length).toBe(5);
      expect(await queue.depth()).toBe(5);
      // Refused ids: no job, and the placeholder that stopped BullMQ's add is deleted.
      const refused = ids.filter((_, i) => !admitted[i]);
      for (let t = 0; t < 100 && (await admin.exists(...refused.map((id) => `${keys.prefix}:${keys.queueName}:${id}`))) > 0; t++)
        await new Promise((r) => setTimeout(r, 10));
      expect(await admin.exists(...refused.map((id) => `${keys.prefix}:${keys.queueName}:${id}`))).toBe(0);
      // Every reservation was released once its job was in the queue.
      expect(await admin.zcard(`${keys.prefix}:admissions`)).toBe(0);
      // Unbounded: always added.
      expect(await queue.submit(job('unbounded'))).toBe(true);
      expect(await queue.depth()).toBe(6);
    } finally {
      await queue.close();
    }
  });
});

describe('StreamReader', () => {
  async function withReader<T>(blockMs: number, body: (reader: StreamReader) => Promise<T>): Promise<T> {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const reader = new StreamReader(conn, admin, blockMs);
    try {
      return await body(reader);
    } finally {
      reader.close();
    }
  }

  async function take(sub: ReturnType<StreamReader['subscribe']>, n: number): Promise<StreamEvent[]> {
    const got: StreamEvent[] = [];
    const signal = new AbortController().signal;
    while (got.length < n) got.push(...((await sub.next(1000, signal)) ?? []));
    return got;
  }

  it('follows several streams in one read; a stream joins a read that is already blocked (no wait for its timeout)', { timeout: 10_000 }, async () => {
    // A block of one minute: a new stream that had to wait for the read in flight to time out would fail the test.
    await withReader(60_000, async (reader) => {
      await admin.xadd('s:a', '*', 'e', JSON.stringify(tok(0)));
      const a = reader.subscribe('s:a');
      expect(await take(a, 1)).toEqual([tok(0)]);
      // The reader is now blocked on s:a alone; s:b joins it.
      await new Promise((r) => setTimeout(r, 50));
      const b = reader.subscribe('s:b');
      await admin.xadd('s:b', '*', 'e', JSON.stringify(tok(0)));
      expect(await take(b, 1)).toEqual([tok(0)]);
      await admin.xadd('s:a', '*', 'e', JSON.stringify(tok(1)));
      expect(await take(a, 1)).toEqual([tok(1)]);
      reader.unsubscribe(a);
      reader.unsubscribe(b);
    });
  });

  it('a consumer that falls behind stops being read past its mark, then gets everything in order', async () => {
    await withReader(200, async (reader) => {
      const slow = reader.subscribe('s:slow');
      const fast = reader.subscribe('s:fast');
      const N = 3000;
      const pipe = admin.pipeline();
      for (let i = 0; i < N; i++) pipe.xadd('s:slow', '*', 'e', JSON.stringify(tok(i)));
      await pipe.exec();
      await admin.xadd('s:fast', '*', 'e', JSON.stringify(tok(0)));
      // The fast stream is served while the slow one holds what it has not taken.
      expect(await take(fast, 1)).toEqual([tok(0)]);
      // Reads of 512: it stops at its mark of 1024 instead of holding all 3000.
      for (let t = 0; t < 100 && slow.held < 1024; t++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100));
      expect(slow.held).toBeGreaterThanOrEqual(1024);
      expect(slow.held).toBeLessThanOrEqual(1024 + 512);
      const got = await take(slow, N);
      expect(got.map((e) => (e.t === 'tok' ? e.i : -1))).toEqual(Array.from({ length: N }, (_, i) => i));
    });
  });
});

describe('RedisJobQueue.events', () => {
  it('keeps a quiet request waiting while Redis is unreachable, instead of failing it', async () => {
    // A Redis of its own: this test stops it.
    const own = await startRedis();
    const queue = new RedisJobQueue(own.url, { watchdogMs: 50 });
    const ac = new AbortController();
    try {
      expect(await queue.submit(job('quiet-while-down'))).toBe(true);
      const seen: StreamEvent[] = [];
      const consumed = (async () => {
        for await (const batch of queue.events('quiet-while-down', ac.signal)) seen.push(...batch);
      })();
      let failure: unknown;
      consumed.catch((e: unknown) => (failure = e));
      await own.stop();
      // Several watchdog looks, each of which cannot reach Redis (the reader wakes every BLOCK_MS).
      await new Promise((r) => setTimeout(r, 1_500));
      expect(failure).toBeUndefined();
      ac.abort();
      await consumed;
      expect(seen).toEqual([]);
    } finally {
      ac.abort();
      await queue.close();
      await own.stop();
    }
  });
});
