/**
 * Per-key sliding-window rate limit. In Redis it is one Lua script (atomic: two replicas cannot both pass the last
 * slot) using Redis TIME, so gateway clocks do not matter and the limit is exact across replicas.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TrineError } from '@trine/core';

export interface RateLimitConfig {
  /** Requests allowed per window and key. */
  readonly limit: number;
  readonly windowMs: number;
}

export interface RateLimiter {
  /** Resolves when allowed; throws RATE_LIMITED with the retry delay otherwise. */
  take(key: string): Promise<void>;
}

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1]) * 1000
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.ceil((tonumber(oldest[2]) + window - now) / 1000)}
`;

const RETRY = Symbol('retryAfterMs');

function limited(retryMs: number): TrineError {
  return Object.assign(new TrineError('RATE_LIMITED', `rate limit exceeded; retry in ${retryMs} ms`), { [RETRY]: retryMs });
}

/** How long a RATE_LIMITED error says to wait (HTTP's Retry-After); undefined for any other error. */
export function retryAfterMs(e: unknown): number | undefined {
  const v = TrineError.is(e, 'RATE_LIMITED') ? (e as unknown as Record<symbol, unknown>)[RETRY] : undefined;
  return typeof v === 'number' ? v : undefined;
}

// The key is hashed so API keys never appear in Redis key names.
const bucket = (key: string): string => `trine:rl:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;

export class RedisRateLimiter implements RateLimiter {
  private seq = 0;
  private readonly nonce = Math.random().toString(36).slice(2);

  constructor(private readonly redis: Redis, private readonly config: RateLimitConfig) {
    redis.defineCommand('trineRateLimit', { numberOfKeys: 1, lua: SCRIPT });
  }

  async take(key: string): Promise<void> {
    const cmd = (this.redis as unknown as { trineRateLimit(k: string, w: number, l: number, m: string): Promise<[number, number]> }).trineRateLimit;
    let reply: [number, number];
    try {
      reply = await cmd.call(this.redis, bucket(key), this.config.windowMs, this.config.limit, `${this.nonce}-${this.seq++}`);
    } catch (e) {
      throw new TrineError('UNAVAILABLE', `rate limiter unavailable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const [ok, retryMs] = reply;
    if (ok !== 1) throw limited(retryMs);
  }
}

/** The same sliding log in memory, for the standalone server (one process, so exact as well). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly logs = new Map<string, number[]>();

  constructor(private readonly config: RateLimitConfig, private readonly now: () => number = () => performance.now()) {}

  async take(key: string): Promise<void> {
    const t = this.now();
    const log = (this.logs.get(key) ?? []).filter((x) => x > t - this.config.windowMs);
    if (log.length >= this.config.limit) {
      this.logs.set(key, log);
      throw limited(Math.ceil(log[0]! + this.config.windowMs - t));
    }
    log.push(t);
    this.logs.set(key, log);
  }
}

/** `TRINE_RATE_LIMIT=N/SECONDS` (e.g. `600/60`); unset = no limit. */
export function parseRateLimit(spec: string | undefined): RateLimitConfig | undefined {
  if (!spec) return undefined;
  const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(spec.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0) throw new TrineError('INVALID_ARGUMENT', `TRINE_RATE_LIMIT must be N/SECONDS, got '${spec}'`, { field: 'TRINE_RATE_LIMIT' });
  return { limit: Number(m[1]), windowMs: Math.round(Number(m[2]) * 1000) };
}
