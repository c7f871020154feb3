/**
 * The in-process queue of the standalone server: same JobQueue contract and the same runJob as the distributed
 * worker, with the event log in memory instead of a Redis Stream.
 */
import { runJob, type EventSink, type InferenceJob, type ModelHost, type StopReason, type StreamEvent } from '@trine/serving';
import type { JobQueue } from './queue.js';

interface Log {
  readonly events: StreamEvent[];
  wake: (() => void) | undefined;
}

export class LocalJobQueue implements JobQueue {
  private readonly logs = new Map<string, Log>();
  private readonly waiting: InferenceJob[] = [];
  private readonly running = new Map<string, AbortController>();
  private readonly sink: EventSink = {
    append: async (requestId, events) => {
      const log = this.logs.get(requestId);
      if (!log) return;
      log.events.push(...events);
      const w = log.wake;
      log.wake = undefined;
      w?.();
    },
  };

  /** `concurrency`: jobs handed to the engine at once (its batch size). */
  constructor(private readonly host: ModelHost, private readonly concurrency: number) {}

  async depth(): Promise<number> {
    return this.waiting.length + this.running.size;
  }

  async submit(job: InferenceJob, maxQueue = Infinity): Promise<boolean> {
    // Synchronous from check to push: atomic within this process.
    if (this.waiting.length + this.running.size >= maxQueue) return false;
    this.logs.set(job.requestId, { events: [], wake: undefined });
    this.waiting.push(job);
    this.pump();
    return true;
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!;
      const ac = new AbortController();
      this.running.set(job.requestId, ac);
      void runJob(this.host, job, this.sink, { attempt: 1, workerId: 'standalone', signal: ac.signal })
        .then(async (outcome) => {
          // No other worker to hand a job to in one process: a job given back ends as UNAVAILABLE (retryable).
          if (outcome === 'handed-back')
            await this.sink.append(job.requestId, [{ t: 'err', attempt: 1, error: { code: 'UNAVAILABLE', message: 'the engine stopped; retry' } }]);
        })
        .catch((e: unknown) => this.sink.append(job.requestId, [{ t: 'err', attempt: 1, error: { code: 'INTERNAL', message: String(e) } }]))
        .finally(() => {
          this.running.delete(job.requestId);
          this.pump();
        });
    }
  }

  async *events(requestId: string, signal: AbortSignal): AsyncGenerator<readonly StreamEvent[], void, undefined> {
    const log = this.logs.get(requestId);
    if (!log) return;
    const onAbort = (): void => log.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      let next = 0;
      while (!signal.aborted) {
        if (next < log.events.length) {
          const batch = log.events.slice(next);
          next = log.events.length;
          yield batch;
          continue;
        }
        await new Promise<void>((r) => (log.wake = r));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.logs.delete(requestId);
    }
  }

  async cancel(requestId: string): Promise<void> {
    const i = this.waiting.findIndex((j) => j.requestId === requestId);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      await this.sink.append(requestId, [{ t: 'err', attempt: 1, error: { code: 'CANCELLED', message: 'cancelled by the client' } }]);
      return;
    }
    this.running.get(requestId)?.abort('cancel' satisfies StopReason);
  }

  async close(): Promise<void> {
    for (const ac of this.running.values()) ac.abort('shutdown' satisfies StopReason);
  }
}
