/**
 * The distributed queue: BullMQ for jobs, one Redis Stream per request for its events, pub/sub + a marker key for
 * cancellation (BullMQ's cancelJob works only on the worker instance holding the job, so the signal goes
 * through Redis to whichever worker that is).
 */
import { createIORedisClient, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TrineError } from '@trine/core';
import { EVENT_TTL_MS, keys, type InferenceJob, type StreamEvent } from '@trine/serving';
import type { JobQueue } from './queue.js';
import { BLOCK_MS, StreamReader } from './stream-reader.js';

type AdmitCommand = { trineAdmit(...args: (string | number)[]): Promise<number> };

/** With no events for this long, check that the job still exists (a job that failed for good writes nothing). */
const WATCHDOG_MS = 5_000;

export interface RedisJobQueueOptions {
  /** How long a request may go without events before its job is looked up (default 5 s). */
  readonly watchdogMs?: number;
}

/**
 * Admission and enqueueing in one round trip: this script, BullMQ's add and the release of the reservation are sent
 * back to back on one connection, so Redis runs them in that order with no wait in between. The script counts the
 * queue's jobs (waiting, running, prioritized, delayed, paused) plus reservations of admissions in flight; under the
 * bound it reserves a slot (the job then counts twice until the release: over, never under), at the bound it writes
 * a placeholder under the job's key, and BullMQ's add, which ignores a job id that already exists (documented
 * behaviour), adds nothing. The gateway deletes the placeholder; it, and a reservation whose gateway died, expire by
 * themselves. (Check then add as two round trips let concurrent requests all pass: 32 admitted at a bound of 16.
 * One MULTI cost twice the CPU of a plain add: ioredis builds a transaction object carrying all of BullMQ's scripts.)
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[3]))
local n = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('LLEN', KEYS[5]) + redis.call('ZCARD', KEYS[6])
if n >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[7], 'trine_refused', '1')
  redis.call('PEXPIRE', KEYS[7], ARGV[3])
  return 0
end
redis.call('ZADD', KEYS[6], now, ARGV[2])
return 1
`;
const ADMISSIONS = `${keys.prefix}:admissions`;
/** How long a reservation or a placeholder outlives a gateway that died before cleaning it up. */
const RESERVATION_MS = 10_000;

/** Redis trouble is the client's UNAVAILABLE (retryable), not an internal error. */
export async function unavailable<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (TrineError.is(e)) throw e;
    throw new TrineError('UNAVAILABLE', `queue unavailable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export class RedisJobQueue implements JobQueue {
  private readonly queue: Queue<InferenceJob>;
  private readonly redis: Redis;
  /** BullMQ's view of the same connection (its scripts run through it). */
  private readonly bull: Parameters<Job['addJob']>[0];
  /** One blocking XREAD for every request stream this gateway follows. */
  private readonly reader: StreamReader;

  private readonly watchdogMs: number;

  constructor(redisUrl: string, options: RedisJobQueueOptions = {}) {
    this.watchdogMs = options.watchdogMs ?? WATCHDOG_MS;
    // Producers fail fast when Redis is down (the caller gets UNAVAILABLE) instead of queueing commands: with an
    // offline queue, commands waited through ioredis's growing reconnect delays (1.6 s measured while Redis was down).
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
    this.redis.on('error', () => undefined); // reconnects by itself; calls in flight fail with UNAVAILABLE
    this.queue = new Queue<InferenceJob>(keys.queueName, { connection: this.redis, prefix: keys.prefix });
    // Without a listener BullMQ prints every connection error to stderr while Redis is down.
    this.queue.on('error', () => undefined);
    this.redis.defineCommand('trineAdmit', { numberOfKeys: 7, lua: ADMIT });
    this.bull = createIORedisClient(this.redis) as unknown as Parameters<Job['addJob']>[0];
    const readerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    readerConnection.on('error', () => undefined);
    this.reader = new StreamReader(readerConnection, this.redis);
  }

  get connection(): Redis {
    return this.redis;
  }

  async depth(): Promise<number> {
    const c = await unavailable(this.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed'));
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async submit(job: InferenceJob, maxQueue = Infinity): Promise<boolean> {
    // BullMQ defines its scripts on the connection once the queue is ready.
    await unavailable(this.queue.waitUntilReady());
    const bounded = Number.isFinite(maxQueue);
    const k = this.queue.keys;
    const jobKey = this.queue.toKey(job.requestId);
    // The three commands leave in this order, in the same tick, on the one connection.
    const admitted = bounded
      ? (this.redis as unknown as AdmitCommand).trineAdmit(k.wait!, k.active!, k.prioritized!, k.delayed!, k.paused!, ADMISSIONS, jobKey, maxQueue, job.requestId, RESERVATION_MS)
      : Promise.resolve(1);
    const added = new Job<InferenceJob>(this.queue, 'generate', job, { jobId: job.requestId, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } }, job.requestId).addJob(this.bull);
    if (bounded) void this.redis.zrem(ADMISSIONS, job.requestId).catch(() => undefined);
    const [ok] = await unavailable(Promise.all([admitted, added]));
    if (ok !== 1) {
      void this.redis.del(jobKey).catch(() => undefined);
      return false;
    }
    return true;
  }

  async *events(requestId: string, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[], void, undefined> {
    const key = keys.stream(requestId);
    let quietSince = Date.now();
    const sub = this.reader.subscribe(key);
    try {
      while (!signal.aborted) {
        const batch = await sub.next(BLOCK_MS, signal);
        if (batch) {
          quietSince = Date.now();
          yield batch;
          continue;
        }
        if (signal.aborted || Date.now() - quietSince <= this.watchdogMs) continue;
        quietSince = Date.now();
        if (await this.lost(requestId, key, sub.lastId)) throw new TrineError('UNAVAILABLE', `the job for request ${requestId} was lost; retry`);
      }
    } finally {
      this.reader.unsubscribe(sub);
    }
  }

  /**
   * Whether a quiet request's job is gone for good (failed, or removed) with no events left to read. While Redis is
   * unreachable that cannot be told: the request keeps waiting (the reader resumes once Redis is back; its deadline
   * bounds the wait). A watchdog that failed on the outage ended every open stream with an internal error.
   */
  private async lost(requestId: string, key: string, lastId: string): Promise<boolean> {
    try {
      const job = await this.queue.getJob(requestId);
      const state = job ? await job.getState() : 'missing';
      if (state !== 'failed' && state !== 'missing') return false;
      // One more look closes the race with events written just before the job ended (the reader delivers them).
      return !(await this.redis.xread('COUNT', 1, 'STREAMS', key, lastId));
    } catch {
      return false;
    }
  }

  async cancel(requestId: string): Promise<void> {
    await this.redis.multi().set(keys.cancelled(requestId), '1', 'PX', EVENT_TTL_MS).publish(keys.cancelChannel, requestId).exec();
    // A waiting job is removed outright; an active one is locked (removal fails) and its worker aborts it.
    await this.queue.remove(requestId).catch(() => 0);
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.reader.close();
    await this.redis.quit().catch(() => undefined);
  }
}
