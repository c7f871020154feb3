/** The model as the job runner, the worker and the gateway see it, apart from where it computes (EngineHost: a thread). */
import type { EngineRequest, GenerateEvent } from '@trine/core';
import type { HeldPrefixes, ServedModelInfo } from './engine-messages.js';
import type { InferenceJob, RunOutcome } from './protocol.js';

/** An async TextGenerator: what the job runner and the gateway need from a model, wherever it runs. */
export interface ModelHost {
  readonly info: ServedModelInfo;
  /** Set once the engine is gone (thread crashed or closed): every call fails with this UNAVAILABLE error. */
  readonly failure: Error | undefined;
  tokenize(text: string, chat: boolean): Promise<number[]>;
  generate(request: EngineRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent>;
  close(): Promise<void>;
}

/** A model that runs queued jobs where it computes, writing their events to the queue's Redis itself. */
export interface QueueHost extends ModelHost {
  /** Opens the engine side's own Redis connection (once); resolves when it is ready. */
  connectQueue(redisUrl: string): Promise<void>;
  /** Runs a job (runJob) and resolves with its outcome. Aborting `signal` stops it with the abort's StopReason. */
  runQueued(job: InferenceJob, workerId: string, signal: AbortSignal): Promise<{ outcome: RunOutcome; attempt: number }>;
  /** The prefix-cache block keys the engine could reuse now (the worker's routing report). */
  heldPrefixes(): Promise<HeldPrefixes>;
  /** Log lines from the engine side (its Redis connection's errors). */
  onLog: ((msg: string, fields: Record<string, unknown>) => void) | undefined;
}
