/**
 * The distributed queue: BullMQ for jobs, one Redis Stream per request for its events, pub/sub + a marker key for
 * cancellation (BullMQ's cancelJob works only on the worker instance holding the job, so the signal goes
 * through Redis to whichever worker that is).
 */
import { createIORedisClient, Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TrineError } from '@trine/core';
import { EVENT_TTL_MS, keys, type InferenceJob, type StreamEvent } from '@trine/worker';
import type { JobQueue } from './queue.js';
import { BLOCK_MS, StreamReader } from './stream-reader.js';

type XReadReply = [string, [string, string[]][]][] | null;
type AdmitCommand = { trineAdmit(...args: (string | number)[]): unknown };

/** With no events for this long, check that the job still exists (a job that failed for good writes nothing). */
const WATCHDOG_MS = 5_000;

/**
 * Admission and enqueueing in one round trip: this script and BullMQ's add run in one MULTI, so the count and the
 * add are atomic across gateway replicas. The script counts the queue's jobs (waiting, running, prioritized,
 * delayed, paused); at the bound it writes a placeholder under the job's key, and BullMQ's add, which ignores a job
 * id that already exists (documented behaviour), then adds nothing. The gateway deletes the placeholder; it expires
 * by itself should the gateway die first. (Two steps, check then add, let concurrent requests all pass: 32 admitted
 * at a bound of 16; a reservation step before the add cost a round trip.)
 */
const ADMIT = `
local n = redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('LLEN', KEYS[5])
if n < tonumber(ARGV[1]) then return 1 end
redis.call('HSET', KEYS[6], 'trine_refused', '1')
redis.call('PEXPIRE', KEYS[6], ARGV[2])
return 0
`;
const PLACEHOLDER_MS = 10_000;

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
  /** One blocking XREAD for every request stream this gateway follows. */
  private readonly reader: StreamReader;

  constructor(redisUrl: string) {
    // Producers fail fast when Redis is down (the caller gets UNAVAILABLE) instead of queueing commands: with an
    // offline queue, commands waited through ioredis's growing reconnect delays (1.6 s measured while Redis was down).
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: false });
    this.redis.on('error', () => undefined); // reconnects by itself; calls in flight fail with UNAVAILABLE
    this.queue = new Queue<InferenceJob>(keys.queueName, { connection: this.redis, prefix: keys.prefix });
    // Without a listener BullMQ prints every connection error to stderr while Redis is down.
    this.queue.on('error', () => undefined);
    this.redis.defineCommand('trineAdmit', { numberOfKeys: 6, lua: ADMIT });
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
    // BullMQ's view of the connection: its transactions carry the scripts BullMQ's add runs.
    const multi = createIORedisClient(this.redis).multi();
    if (bounded) (multi as unknown as AdmitCommand).trineAdmit(k.wait!, k.active!, k.prioritized!, k.delayed!, k.paused!, jobKey, maxQueue, PLACEHOLDER_MS);
    const added = new Job<InferenceJob>(this.queue, 'generate', job, { jobId: job.requestId, removeOnComplete: { age: 600 }, removeOnFail: { age: 3600 } }, job.requestId).addJob(multi as unknown as Parameters<Job['addJob']>[0]);
    added.catch(() => undefined); // its outcome is read from the EXEC replies below
    const replies = await unavailable(multi.exec());
    if (!replies) throw new TrineError('UNAVAILABLE', 'queue unavailable: the enqueue transaction was aborted');
    const failed = replies.find(([err]) => err);
    if (failed) throw new TrineError('UNAVAILABLE', `queue unavailable: ${String(failed[0])}`, { cause: failed[0] });
    if (bounded && replies[0]![1] !== 1) {
      void this.redis.del(jobKey).catch(() => undefined);
      return false;
    }
    const id = replies.at(-1)![1];
    if (typeof id === 'number' && id < 0) throw new TrineError('UNAVAILABLE', `queue unavailable: BullMQ refused the job (code ${id})`);
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
        if (signal.aborted || Date.now() - quietSince <= WATCHDOG_MS) continue;
        quietSince = Date.now();
        const job = await this.queue.getJob(requestId);
        const state = job ? await job.getState() : 'missing';
        if (state === 'failed' || state === 'missing') {
          // One more look closes the race with events written just before the job ended (the reader delivers them).
          const tail = (await this.redis.xread('COUNT', 1, 'STREAMS', key, sub.lastId)) as XReadReply;
          if (!tail) throw new TrineError('UNAVAILABLE', `the job for request ${requestId} was lost (${state}); retry`);
        }
      }
    } finally {
      this.reader.unsubscribe(sub);
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
