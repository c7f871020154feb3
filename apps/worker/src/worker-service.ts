/**
 * The distributed worker: BullMQ Workers on the inference queue feeding one engine thread. Concurrency = the
 * engine's batch size, so concurrent jobs share decode steps (continuous batching happens inside the engine).
 * This thread holds the jobs (pickup, lock renewal, cancel and shutdown); the engine thread runs them and writes
 * their events to Redis on its own connection.
 */
import { randomUUID } from 'node:crypto';
import { WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { propagation, trace, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { keys, type InferenceJob, type QueueHost, type RunOutcome, type StopReason } from '@trine/serving';
import { PromptWorker } from './prompt-worker.js';

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
  /** `lockRenewalFailed` and `stalled` count BullMQ's events: both stay 0 unless the event loop starved or a worker died. */
  readonly counters = { started: 0, done: 0, failed: 0, cancelled: 0, expired: 0, handedBack: 0, lockRenewalFailed: 0, stalled: 0 };

  private constructor(private readonly opts: WorkerServiceOptions) {
    this.workerId = opts.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.subscriber = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.bullConnection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    // ioredis reconnects by itself; without listeners its errors would be reported as unhandled.
    for (const c of [this.subscriber, this.bullConnection]) c.on('error', (e: Error) => this.log('redis error', { error: e.message }));
    this.workers = fetchLoops(opts.concurrency ?? 8).map((concurrency, i) => {
      const worker = new PromptWorker<InferenceJob, RunOutcome>(keys.queueName, (job, token, signal) => this.process(job, token, signal), {
        connection: this.bullConnection,
        prefix: keys.prefix,
        concurrency,
        lockDuration: opts.lockDuration ?? 30_000,
        stalledInterval: opts.stalledInterval ?? 30_000,
        maxStalledCount: opts.maxStalledCount ?? 2,
        // One stalled-job checker per process is enough.
        skipStalledCheck: i > 0,
        autorun: false,
      });
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
    });
  }

  static async start(opts: WorkerServiceOptions): Promise<WorkerService> {
    const s = new WorkerService(opts);
    opts.host.onLog = (msg, fields) => s.log(msg, fields);
    await opts.host.connectQueue(opts.redisUrl);
    await s.subscriber.subscribe(keys.cancelChannel);
    s.subscriber.on('message', (_channel: string, requestId: string) => s.stop(requestId, 'cancel'));
    for (const w of s.workers) void w.run();
    await Promise.all(s.workers.map((w) => w.waitUntilReady()));
    s.log('worker ready', { workerId: s.workerId, backend: opts.host.info.backend, concurrency: opts.concurrency ?? 8 });
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
    await Promise.all(this.workers.map((w) => w.pause(true)));
    const deadline = Date.now() + graceMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const ac of this.running.values()) ac.abort('shutdown' satisfies StopReason);
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.workers.map((w) => w.close()));
    await this.subscriber.quit().catch(() => undefined);
    await this.bullConnection.quit().catch(() => undefined);
  }
}
