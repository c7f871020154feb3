/**
 * The distributed worker: BullMQ Workers on the inference queue feeding one engine thread. Concurrency = the
 * engine's batch size, so concurrent jobs share decode steps (continuous batching happens inside the engine).
 * This thread holds the jobs (pickup, lock renewal, cancel and shutdown); the engine thread runs them and writes
 * their events to Redis on its own connection.
 */
import { randomUUID } from 'node:crypto';
import { Queue, WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { propagation, trace, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import {
  checkWorkerId,
  FORGET_AFTER_MS,
  keys,
  publishReport,
  REPORT_EVERY_MS,
  routing,
  type InferenceJob,
  type QueueHost,
  type RunOutcome,
  type StopReason,
} from '@trine/serving';
import { PromptWorker, type ClaimGate } from './prompt-worker.js';

export interface WorkerServiceOptions {
  readonly redisUrl: string;
  readonly host: QueueHost;
  /** Jobs run at once (default: 8). Set it to the engine's maxBatch. */
  readonly concurrency?: number;
  /** BullMQ lock duration; a crashed worker's jobs are picked up again after about this long (default 30 s). */
  readonly lockDuration?: number;
  readonly stalledInterval?: number;
  /** Times a job may stall (worker died) before it fails for good (default 2). */
  readonly maxStalledCount?: number;
  readonly workerId?: string;
  /**
   * Prefix routing (TRINE_PREFIX_ROUTING): report the engine's prefix-cache blocks, take jobs from this worker's own
   * queue as well as the shared one, and consume the own queues of workers whose report expired.
   */
  readonly prefixRouting?: boolean;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const tracer = trace.getTracer('@trine/worker');

/**
 * How the batch's slots are split over BullMQ Workers. A BullMQ Worker fetches jobs one round trip at a time, so
 * with one Worker a burst of 32 jobs took 32 sequential fetches (~35 ms measured) before the last one started.
 */
export function fetchLoops(concurrency: number, maxLoops = 4): number[] {
  const loops = Math.max(1, Math.min(maxLoops, concurrency));
  return Array.from({ length: loops }, (_, i) => Math.floor(concurrency / loops) + (i < concurrency % loops ? 1 : 0));
}

export class WorkerService {
  readonly workerId: string;
  private readonly running = new Map<string, AbortController>();
  private readonly subscriber: Redis;
  private readonly bullConnection: Redis;
  /** Several BullMQ Workers share the batch: each claims jobs one at a time, so a burst is picked up in parallel. */
  private readonly workers: PromptWorker<InferenceJob, RunOutcome>[];
  private readonly concurrency: number;
  /** Prefix routing: the claim loops waiting for a free slot of this process (woken when a job ends). */
  private readonly slotWaiters = new Set<() => void>();
  /** Prefix routing: the own queues of dead workers that this one consumes too, by worker id. */
  private readonly adopted = new Map<string, PromptWorker<InferenceJob, RunOutcome>>();
  private reportTimer: NodeJS.Timeout | undefined;
  /** Reports are written one at a time, in order; `reportAgain` coalesces the ones asked for meanwhile. */
  private reporting: Promise<void> | undefined;
  private reportAgain = false;
  private lastReport: string | undefined;
  private sweeping = false;
  private stopping = false;
  /** `lockRenewalFailed` and `stalled` count BullMQ's events: both stay 0 unless the event loop starved or a worker died. */
  readonly counters = { started: 0, done: 0, failed: 0, cancelled: 0, expired: 0, handedBack: 0, lockRenewalFailed: 0, stalled: 0 };

  private constructor(private readonly opts: WorkerServiceOptions) {
    this.workerId = opts.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    if (opts.prefixRouting) checkWorkerId(this.workerId);
    this.concurrency = opts.concurrency ?? 8;
    this.subscriber = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.bullConnection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    // ioredis reconnects by itself; without listeners its errors would be reported as unhandled.
    for (const c of [this.subscriber, this.bullConnection]) c.on('error', (e: Error) => this.log('redis error', { error: e.message }));
    // One stalled-job checker per process and queue is enough.
    this.workers = fetchLoops(this.concurrency).map((concurrency, i) => this.consumer(keys.queueName, concurrency, i > 0));
    // The own queue is consumed with the whole batch: a job routed here is taken at once when a slot is free.
    if (opts.prefixRouting) this.workers.push(this.consumer(routing.queueName(this.workerId), this.concurrency, false));
  }

  /** A BullMQ Worker on `queueName` feeding this process's engine; with prefix routing, it shares the batch's slots. */
  private consumer(queueName: string, concurrency: number, skipStalledCheck: boolean): PromptWorker<InferenceJob, RunOutcome> {
    const opts = this.opts;
    const worker = new PromptWorker<InferenceJob, RunOutcome>(queueName, (job, token, signal) => this.process(job, token, signal), {
      connection: this.bullConnection,
      prefix: keys.prefix,
      concurrency,
      lockDuration: opts.lockDuration ?? 30_000,
      stalledInterval: opts.stalledInterval ?? 30_000,
      maxStalledCount: opts.maxStalledCount ?? 2,
      skipStalledCheck,
      autorun: false,
    });
    if (opts.prefixRouting) worker.gate = this.gate;
    // A job whose lock could not be renewed may already run elsewhere: stop it here, write nothing more.
    worker.on('lockRenewalFailed', (ids) => {
      this.counters.lockRenewalFailed += ids.length;
      this.log('lock renewal failed', { jobs: ids });
      ids.forEach((id) => this.stop(id, 'lock-lost'));
    });
    // The stalled checker found a job whose lock expired (its worker died or starved) and re-queued it.
    worker.on('stalled', (jobId) => {
      this.counters.stalled++;
      this.log('job stalled', { jobId });
    });
    worker.on('error', (e) => this.log('worker error', { error: e.message }));
    return worker;
  }

  /** Prefix routing: the queues' loops together claim at most the batch (a claim already waiting may add one each). */
  private readonly gate: ClaimGate = {
    open: () => this.running.size < this.concurrency,
    opened: (signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted || this.running.size < this.concurrency) return resolve();
        const done = (): void => {
          this.slotWaiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.slotWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      }),
  };

  static async start(opts: WorkerServiceOptions): Promise<WorkerService> {
    const s = new WorkerService(opts);
    opts.host.onLog = (msg, fields) => s.log(msg, fields);
    await opts.host.connectQueue(opts.redisUrl);
    await s.subscriber.subscribe(keys.cancelChannel);
    s.subscriber.on('message', (_channel: string, requestId: string) => s.stop(requestId, 'cancel'));
    for (const w of s.workers) void w.run();
    await Promise.all(s.workers.map((w) => w.waitUntilReady()));
    if (opts.prefixRouting) {
      await s.report();
      s.reportTimer = setInterval(() => {
        void s.report();
        void s.sweep().catch((e: unknown) => s.log('routing sweep failed', { error: String(e) }));
      }, REPORT_EVERY_MS);
      s.reportTimer.unref();
    }
    s.log('worker ready', { workerId: s.workerId, backend: opts.host.info.backend, concurrency: s.concurrency, prefixRouting: Boolean(opts.prefixRouting) });
    return s;
  }

  private log(msg: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.(msg, fields);
  }

  private stop(requestId: string, reason: StopReason): void {
    const ac = this.running.get(requestId);
    if (!ac) return;
    // `at` lets a test count the tokens written after the worker got the cancel (it should stop within a step).
    if (reason === 'cancel') this.log('job cancel received', { requestId, at: Date.now() });
    ac.abort(reason);
  }

  /** Counters plus the backend in use, for the metrics exporter (observability) and logs. */
  metrics(): { backend: string; variant: string; active: number } & WorkerService['counters'] {
    return { backend: this.opts.host.info.backend, variant: this.opts.host.info.backendVariant, active: this.running.size, ...this.counters };
  }

  get activeJobs(): number {
    return this.running.size;
  }

  private async process(job: Job<InferenceJob, RunOutcome>, token: string | undefined, bullSignal?: AbortSignal): Promise<RunOutcome> {
    const data = job.data;
    const ac = new AbortController();
    this.running.set(data.requestId, ac);
    if (this.opts.prefixRouting) void this.report();
    bullSignal?.addEventListener('abort', () => ac.abort('lock-lost' satisfies StopReason), { once: true });
    try {
      this.counters.started++;
      const parent = propagation.extract(ROOT_CONTEXT, data.trace);
      const outcome = await tracer.startActiveSpan(
        'worker.generate',
        { kind: SpanKind.CONSUMER, attributes: { 'trine.request_id': data.requestId } },
        parent,
        async (span): Promise<RunOutcome> => {
          try {
            const { outcome, attempt } = await this.opts.host.runQueued(data, this.workerId, ac.signal);
            span.setAttribute('trine.attempt', attempt);
            // Inside the span: the line carries the request's trace_id/span_id.
            this.log('job finished', { requestId: data.requestId, attempt, outcome });
            return outcome;
          } catch (e) {
            // The engine thread died: not this request's fault. The job goes to another worker (this process exits).
            if (this.opts.host.failure !== undefined) return 'handed-back';
            throw e;
          } finally {
            span.end();
          }
        },
      );
      this.count(outcome);
      if (outcome === 'handed-back') {
        // Shutdown: put it back in the queue now (lock still ours). Lost lock: the stalled checker re-queues it.
        if (ac.signal.reason === 'shutdown' && token) await job.moveToWait(token);
        throw new WaitingError();
      }
      return outcome;
    } finally {
      // A retry of this request may have started here meanwhile (this run lost its lock): leave its entry.
      if (this.running.get(data.requestId) === ac) this.running.delete(data.requestId);
      if (this.opts.prefixRouting) {
        for (const wake of [...this.slotWaiters]) wake();
        void this.report();
      }
    }
  }

  /**
   * Writes this worker's routing report: its free slots and the block keys its engine holds, whole when the keys
   * changed, else free slots and expiry only. A failure is logged; the next tick (or job) writes it again.
   */
  private report(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.reporting) {
      this.reportAgain = true;
      return this.reporting;
    }
    const write = async (): Promise<void> => {
      do {
        this.reportAgain = false;
        const held = await this.opts.host.heldPrefixes();
        if (this.stopping) return;
        const free = Math.max(0, this.concurrency - this.running.size);
        const signature = `${held.blockTokens}:${held.hitTokens}:${held.keys.join(',')}`;
        const whole = signature !== this.lastReport || !(await publishReport(this.bullConnection, this.workerId, free));
        if (whole) {
          this.lastReport = undefined;
          await publishReport(this.bullConnection, this.workerId, free, held);
          this.lastReport = signature;
        }
      } while (this.reportAgain && !this.stopping);
    };
    this.reporting = write()
      .catch((e: unknown) => this.log('routing report failed', { error: e instanceof Error ? e.message : String(e) }))
      .finally(() => (this.reporting = undefined));
    return this.reporting;
  }

  /**
   * Finds the own queues of workers whose report expired (killed, or drained by SIGTERM) and consumes them too, with
   * their stalled check, so a job routed to a dead worker runs here: waiting ones at once, one that the dead worker
   * had started once its lock expires. A queue is let go when its worker reports again, or forgotten (obliterated)
   * once empty and its worker silent for FORGET_AFTER_MS.
   */
  private async sweep(): Promise<void> {
    if (this.stopping || this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweepOnce();
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepOnce(): Promise<void> {
    const redis = this.bullConnection;
    const [entries, time] = await Promise.all([redis.zrange(routing.workers, '0', '-1', 'WITHSCORES'), redis.time()]);
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const others: { id: string; seen: number }[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) if (entries[i] !== this.workerId) others.push({ id: entries[i]!, seen: Number(entries[i + 1]) });
    const alive = await Promise.all(others.map((o) => redis.exists(routing.report(o.id))));
    for (const [i, o] of others.entries()) {
      const held = this.adopted.get(o.id);
      if (alive[i] === 1) {
        if (held) this.letGo(o.id, held);
        continue;
      }
      if (!held && !this.stopping) {
        const w = this.consumer(routing.queueName(o.id), this.concurrency, false);
        this.adopted.set(o.id, w);
        void w.run().catch((e: unknown) => this.log('worker error', { error: String(e) }));
        this.log('routing: consuming the queue of a worker whose report expired', { worker: o.id });
      }
      if (now - o.seen > FORGET_AFTER_MS) await this.forget(o.id);
    }
    const listed = new Set(others.map((o) => o.id));
    for (const [id, w] of this.adopted) if (!listed.has(id)) this.letGo(id, w);
  }

  private letGo(id: string, w: PromptWorker<InferenceJob, RunOutcome>): void {
    this.adopted.delete(id);
    void w.close().catch(() => undefined);
  }

  /** A dead worker's queue, once empty: removed with its entry (a job routed there meanwhile keeps it). */
  private async forget(id: string): Promise<void> {
    const q = new Queue(routing.queueName(id), { connection: this.bullConnection, prefix: keys.prefix });
    try {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      if (Object.values(counts).some((n) => n > 0)) return;
      await q.obliterate();
      await this.bullConnection.zrem(routing.workers, id);
      this.log('routing: forgot a worker gone for good', { worker: id });
    } catch {
      // obliterate refuses while a job became active; the next sweep tries again
    } finally {
      await q.close().catch(() => undefined);
    }
  }

  private count(o: RunOutcome): void {
    if (o === 'done') this.counters.done++;
    else if (o === 'failed') this.counters.failed++;
    else if (o === 'cancelled') this.counters.cancelled++;
    else if (o === 'expired') this.counters.expired++;
    else this.counters.handedBack++;
  }

  /**
   * SIGTERM: take no new jobs, let running ones finish for up to `graceMs`, then hand the rest back to the queue
   * (another worker continues them; the client sees a clean continuation), and close.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.reportTimer);
    const adopted = [...this.adopted.values()];
    // Gateways stop routing here and live workers start consuming this worker's own queue (what it hands back).
    if (this.opts.prefixRouting) {
      // Bounded: with Redis down these would wait for it (the connection queues commands); the report then expires.
      const bounded = (p: Promise<unknown> | undefined): Promise<unknown> =>
        Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      await bounded(this.reporting);
      await bounded(this.bullConnection.del(routing.report(this.workerId)));
    }
    await Promise.all([...this.workers, ...adopted].map((w) => w.pause(true)));
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const ac of this.running.values()) ac.abort('shutdown' satisfies StopReason);
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.workers, ...adopted].map((w) => w.close()));
    await this.subscriber.quit().catch(() => undefined);
    await this.bullConnection.quit().catch(() => undefined);
  }
}
