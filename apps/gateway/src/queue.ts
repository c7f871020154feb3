import type { InferenceJob, StreamEvent } from '@trine/serving';

/** What a queue may use to place a job (prefix routing): the prompt's token ids as the engine will see them. */
export interface SubmitHint {
  readonly promptIds?: readonly number[];
}

/**
 * What the gateway needs from "the queue": admission, submission, a request's event log, cancellation.
 * RedisJobQueue (BullMQ + Redis Streams) is the distributed one; LocalJobQueue runs jobs in-process (standalone).
 */
export interface JobQueue {
  /** Jobs waiting or running (admission control compares it with the limit). */
  depth(): Promise<number>;
  /**
   * Queues the job unless `maxQueue` jobs are already waiting or running; false = full, nothing queued. The check
   * and the add are one atomic step, so concurrent requests (on any gateway replica) cannot overshoot the bound.
   * `hint` may send the job to a worker that holds its prompt's start (it changes where it runs, never whether).
   */
  submit(job: InferenceJob, maxQueue?: number, hint?: SubmitHint): Promise<boolean>;
  /**
   * The request's events from the first one, in order, each once, in batches of the events that arrived together
   * (so a caller can forward them together); ends when `signal` aborts.
   */
  events(requestId: string, signal: AbortSignal): AsyncIterable<readonly StreamEvent[]>;
  /** Stops the job wherever it is (waiting: it never starts; running: its worker aborts it). */
  cancel(requestId: string): Promise<void>;
  close(): Promise<void>;
}
