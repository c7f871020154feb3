/** The Redis sliding-window limiter is exact across replicas: two limiters (two gateways) racing on one key. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimiter } from '../src/rate-limit.js';
import { startRedis, type RedisServer } from './support/redis-server.js';

let redis: RedisServer;
const conns: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of conns) c.disconnect();
  await redis?.stop();
});

function limiter(limit: number, windowMs: number): RedisRateLimiter {
  const c = new Redis(redis.url);
  conns.push(c);
  return new RedisRateLimiter(c, { limit, windowMs });
}

describe('RedisRateLimiter', () => {
  it('admits exactly `limit` of many concurrent requests from two replicas, per key', async () => {
    const a = limiter(7, 60_000);
    const b = limiter(7, 60_000);
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('key-1')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(7);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected[0]!.reason).toMatchObject({ code: 'RATE_LIMITED' });
    // Another key has its own window.
    await expect(a.take('key-2')).resolves.toBeUndefined();
  });

  it('slides: a slot frees once the oldest request leaves the window', async () => {
    const l = limiter(2, 300);
    await l.take('slide');
    await l.take('slide');
    await expect(l.take('slide')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await new Promise((r) => setTimeout(r, 350));
    await expect(l.take('slide')).resolves.toBeUndefined();
  });
});
