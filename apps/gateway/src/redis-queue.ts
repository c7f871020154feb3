/**
 * The distributed queue: BullMQ for jobs, one Redis Stream per request for its events, pub/sub + a marker key for
 * cancellation (BullMQ's cancelJob works only on the worker instance holding the job, so the signal goes
 * through Redis to whichever worker that is).
 */
import { createIORedisClient, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ENGINE_DEFAULTS, prefixBlockKeys, TrineError } from '@trine/core';
import { EVENT_TTL_MS, keys, routeByPrefix, routing, type InferenceJob, type StreamEvent } from '@trine/serving';
import type { JobQueue, SubmitHint } from './queue.js';
import { BLOCK_MS, StreamReader } from './stream-reader.js';

type AdmitCommand = { trineAdmit(...args: (string | number)[]): Promise<number> };

/** With no events for this long, check that the job still exists (a job that failed for good writes nothing). */
const WATCHDOG_MS = 5_000;

export interface RedisJobQueueOptions {
  /** How long a request may go without events before its job is looked up (default 5 s). */
  readonly watchdogMs?: number;
  /**
   * Prefix routing (TRINE_PREFIX_ROUTING): a job whose prompt starts with blocks a worker reports holding goes to that
   * worker's own queue when its report is fresh and has a free slot; any other job to the shared queue.
   */
  readonly prefixRouting?: boolean;
}

/** Per-worker Queue objects kept at once (each adds listeners to the connection); the least recently used go. */
const MAX_WORKER_QUEUES = 32;

/**
 * Admission and enqueueing in one round trip: this script, BullMQ's add and the release of the reservation are sent
 * back to back on one connection, so Redis runs them in that order with no wait in between. The script counts the
 * queue's jobs (waiting, running, prioritized, delayed, paused) plus reservations of admissions in flight; under the
 * bound it reserves a slot (the job then counts twice until the release: over, never under), at the bound it writes
 * a placeholder under the job's key, and BullMQ's add, which ignores a job id that already exists (documented
 * behaviour), adds nothing. The gateway deletes the placeholder; it, and a reservation whose gateway died, expire by
 * themselves. (Check then add as two round trips let concurrent requests all pass: 32 admitted at a bound of 16.
 * One MULTI cost twice the CPU of a plain add: ioredis builds a transaction object carrying all of BullMQ's scripts.)
 * Jobs waiting or running on workers' own queues (prefix routing, KEYS[8] lists the workers) count too, and
 * KEYS[7] is the job's key in the queue it goes to.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[3]))
local n = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('LLEN', KEYS[5]) + redis.call('ZCARD', KEYS[6])
for _, w in ipairs(redis.call('ZRANGE', KEYS[8], 0, -1)) do
  n = n + redis.call('LLEN', ARGV[4] .. w .. ':wait') + redis.call('LLEN', ARGV[4] .. w .. ':active')
end
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
  private readonly prefixRouting: boolean;
  /** Workers' own queues this gateway has sent jobs to (a Map keeps insertion order: the first is the oldest). */
  private readonly workerQueues = new Map<string, Queue<InferenceJob>>();
  /** Requests this gateway routed to a worker's own queue, until their stream ends: where to cancel or look them up. */
  private readonly routedTo = new Map<string, string>();

  constructor(redisUrl: string, options: RedisJobQueueOptions = {}) {
    this.watchdogMs = options.watchdogMs ?? WATCHDOG_MS;
    this.prefixRouting = options.prefixRouting ?? false;
    // Producers fail fast when Redis is down (the caller gets UNAVAILABLE) instead of queueing commands: with an
    // offline queue, commands waited through ioredis's growing reconnect delays (1.6 s measured while Redis was down).
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
    this.redis.on('error', () => undefined); // reconnects by itself; calls in flight fail with UNAVAILABLE
    this.queue = new Queue<InferenceJob>(keys.queueName, { connection: this.redis, prefix: keys.prefix });
    // Without a listener BullMQ prints every connection error to stderr while Redis is down.
    this.queue.on('error', () => undefined);
    this.redis.defineCommand('trineAdmit', { numberOfKeys: 8, lua: ADMIT });
    // Each BullMQ Queue on this connection adds a few listeners to it.
    if (this.prefixRouting) this.redis.setMaxListeners(this.redis.getMaxListeners() + 4 * MAX_WORKER_QUEUES);
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

  async submit(job: InferenceJob, maxQueue = Infinity, hint?: SubmitHint): Promise<boolean> {
    // BullMQ defines its scripts on the connection once the queue is ready.
    await unavailable(this.queue.waitUntilReady());
    const worker = this.prefixRouting && hint?.promptIds ? await this.route(hint.promptIds) : undefined;
    const target = worker === undefined ? this.queue : this.workerQueue(worker);
    const bounded = Number.isFinite(maxQueue);
    const k = this.queue.keys;
    const jobKey = target.toKey(job.requestId);
    // The three commands leave in this order, in the same tick, on the one connection.
    const admitted = bounded
      ? (this.redis as unknown as AdmitCommand).trineAdmit(k.wait!, k.active!, k.prioritized!, k.delayed!, k.paused!, ADMISSIONS, jobKey, routing.workers, maxQueue, job.requestId, RESERVATION_MS, `${keys.prefix}:${routing.queueName('')}`)
      : Promise.resolve(1);
    const added = new Job<InferenceJob>(target, 'generate', job, { jobId: job.requestId, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } }, job.requestId).addJob(this.bull);
    if (bounded) void this.redis.zrem(ADMISSIONS, job.requestId).catch(() => undefined);
    const [ok] = await unavailable(Promise.all([admitted, added]));
    if (ok !== 1) {
      void this.redis.del(jobKey).catch(() => undefined);
      return false;
    }
    if (worker !== undefined) this.routedTo.set(job.requestId, worker);
    return true;
  }

  /**
   * The worker whose report holds the longest start of these prompt ids (in whole blocks, as its engine keys them),
   * or undefined. Routing only saves prefill: when it cannot answer, the job goes to the shared queue.
   */
  private async route(promptIds: readonly number[]): Promise<string | undefined> {
    const block = ENGINE_DEFAULTS.prefixBlockTokens;
    // The engine reuses whole blocks short of the prompt's last token (that one must be computed).
    const blockKeys = prefixBlockKeys(promptIds, block, promptIds.length - 1);
    return (await routeByPrefix(this.redis, block, blockKeys).catch(() => undefined))?.worker;
  }

  /** A worker's own queue (BullMQ Queue objects on this connection, at most MAX_WORKER_QUEUES kept). */
  private workerQueue(worker: string): Queue<InferenceJob> {
    let q = this.workerQueues.get(worker);
    if (q) this.workerQueues.delete(worker);
    else {
      q = new Queue<InferenceJob>(routing.queueName(worker), { connection: this.redis, prefix: keys.prefix });
      q.on('error', () => undefined);
    }
    this.workerQueues.set(worker, q);
    for (const [id, old] of this.workerQueues) {
      if (this.workerQueues.size <= MAX_WORKER_QUEUES) break;
      this.workerQueues.delete(id);
      void old.close().catch(() => undefined);
    }
    return q;
  }

  /** The queue a request's job was sent to by this gateway. */
  private queueOf(requestId: string): Queue<InferenceJob> {
    const worker = this.routedTo.get(requestId);
    return worker === undefined ? this.queue : this.workerQueue(worker);
  }

  async *events(requestId: string, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[], void, undefined> {
    const key = keys.stream(requestId);
    let quietSince = Date.now();
    const sub = this.reader.subscribe(key);
    let ended = false;
    try {
      while (!signal.aborted) {
        const batch = await sub.next(BLOCK_MS, signal);
        if (batch) {
          quietSince = Date.now();
          ended ||= batch.some((e) => e.t === 'done');
          yield batch;
          continue;
        }
        if (signal.aborted || Date.now() - quietSince <= this.watchdogMs) continue;
        quietSince = Date.now();
        if (await this.lost(requestId, key, sub.lastId)) throw new TrineError('UNAVAILABLE', `the job for request ${requestId} was lost; retry`);
      }
    } finally {
      this.reader.unsubscribe(sub);
      // A request that ended without one (error, cancel, deadline) is cancelled next, which forgets it.
      if (ended) this.routedTo.delete(requestId);
    }
  }

  /**
   * Whether a quiet request's job is gone for good (failed, or removed) with no events left to read. While Redis is
   * unreachable that cannot be told: the request keeps waiting (the reader resumes once Redis is back; its deadline
   * bounds the wait). A watchdog that failed on the outage ended every open stream with an internal error.
   */
  private async lost(requestId: string, key: string, lastId: string): Promise<boolean> {
    try {
      const job = await this.queueOf(requestId).getJob(requestId);
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
    await this.queueOf(requestId).remove(requestId).catch(() => 0);
    this.routedTo.delete(requestId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.workerQueues.values()].map((q) => q.close().catch(() => undefined)));
    await this.queue.close();
    this.reader.close();
    await this.redis.quit().catch(() => undefined);
  }
}
