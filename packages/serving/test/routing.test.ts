/**
 * Prefix routing's two scripts on a real redis-server: what workers report and which worker the gateway picks.
 * Block keys come from core's prefixBlockKeys, as on both sides in production.
 */
import { prefixBlockKeys } from '@trine/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../src/dev/redis-server.js';
import { prefixRoutingEnabled, publishReport, REPORT_TTL_MS, routeByPrefix, routing } from '../src/routing.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await redis.flushall();
});

const B = 4;
const ids = (n: number, first = 1): number[] => Array.from({ length: n }, (_, i) => first + i);
/** A worker's report as its engine would give it: the keys of the prompts its slots hold. */
const held = (...prompts: number[][]) => ({ blockTokens: B, hitTokens: 0, keys: [...new Set(prompts.flatMap((p) => prefixBlockKeys(p, B)))] });

describe('prefix routing scripts', () => {
  it('picks the worker holding the longest start of the prompt, and only while it has a free slot', async () => {
    const prompt = ids(40);
    await publishReport(redis, 'a', 2, held(ids(8))); // 2 blocks of the prompt
    await publishReport(redis, 'b', 1, held(ids(30), ids(12, 500))); // 7 blocks, and an unrelated prefix
    await publishReport(redis, 'c', 5, held(ids(20, 900))); // none
    const keys = prefixBlockKeys(prompt, B, prompt.length - 1);
    expect(await routeByPrefix(redis, B, keys)).toEqual({ worker: 'b', blocks: 7 });
    // b's free slot was taken by that choice; the next such prompt goes to a, the next-longest holder.
    expect(await redis.hget(routing.report('b'), '#free')).toBe('0');
    expect(await routeByPrefix(redis, B, keys)).toEqual({ worker: 'a', blocks: 2 });
    // A prompt nobody holds the first block of is not routed.
    expect(await routeByPrefix(redis, B, prefixBlockKeys(ids(40, 2000), B))).toBeUndefined();
    expect(await routeByPrefix(redis, B, [])).toBeUndefined();
  });

  it('finds the longest held run for every length (binary search over a chain of keys)', async () => {
    const prompt = ids(64);
    const keys = prefixBlockKeys(prompt, B);
    for (let n = 0; n <= keys.length; n++) {
      await redis.flushall();
      await publishReport(redis, 'a', 1, held(prompt.slice(0, n * B)));
      await publishReport(redis, 'b', 1, held(prompt.slice(0, B))); // always 1 block
      const r = await routeByPrefix(redis, B, keys);
      if (n === 1) expect(r?.blocks).toBe(1); // a tie: either
      else expect(r).toEqual(n === 0 ? { worker: 'b', blocks: 1 } : { worker: 'a', blocks: n });
    }
  });

  it('ignores a worker with another block size, and one whose report expired; refreshing keeps a report', async () => {
    const prompt = ids(40);
    const keys = prefixBlockKeys(prompt, B, prompt.length - 1);
    await publishReport(redis, 'a', 1, { ...held(prompt), blockTokens: 8 });
    expect(await routeByPrefix(redis, B, keys)).toBeUndefined();
    await publishReport(redis, 'b', 1, held(prompt));
    expect(await redis.pttl(routing.report('b'))).toBeGreaterThan(REPORT_TTL_MS - 1000);
    // Free slots and expiry only: the keys stay.
    expect(await publishReport(redis, 'b', 3)).toBe(true);
    expect(await redis.hget(routing.report('b'), '#free')).toBe('3');
    expect((await routeByPrefix(redis, B, keys))?.worker).toBe('b');
    // Gone (expired or deleted at shutdown): a refresh says so, so the worker writes it whole again.
    await redis.del(routing.report('b'));
    expect(await publishReport(redis, 'b', 3)).toBe(false);
    expect(await routeByPrefix(redis, B, keys)).toBeUndefined();
    // Every report is a heartbeat in the workers' list.
    expect((await redis.zrange(routing.workers, '0', '-1')).sort()).toEqual(['a', 'b']);
  });

  it('TRINE_PREFIX_ROUTING: off by default, a bad value names the variable', () => {
    expect(prefixRoutingEnabled({})).toBe(false);
    expect(prefixRoutingEnabled({ TRINE_PREFIX_ROUTING: '0' })).toBe(false);
    expect(prefixRoutingEnabled({ TRINE_PREFIX_ROUTING: 'on' })).toBe(true);
    expect(prefixRoutingEnabled({ TRINE_PREFIX_ROUTING: '1' })).toBe(true);
    expect(() => prefixRoutingEnabled({ TRINE_PREFIX_ROUTING: 'maybe' })).toThrow(/TRINE_PREFIX_ROUTING/);
  });
});
