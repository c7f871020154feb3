/** Messages between the main thread (EngineHost) and the engine thread (engine-thread.ts). */
import type { EngineRequest, EngineStats, GenerateEvent } from '@trine/core';
import type { InferenceJob, RunOutcome, StopReason, WireError } from './protocol.js';
import type { BackendTrial } from '@trine/backends';

export type { BackendTrial };

export interface EngineThreadOptions {
  /** Model file (GGUF / HF dir); undefined = the embedded default model. */
  readonly model?: string;
  /** Force a backend by name (TRINE_BACKEND); undefined = @trine/backends' measured choice (cached per host). */
  readonly backend?: string;
  readonly threads?: number;
  /** LM head storage (TRINE_LM_HEAD); undefined = the file's. */
  readonly lmHead?: 'f16' | 'f32' | 'q8';
  readonly maxBatch: number;
  readonly context?: number;
}

export interface ServedModelInfo {
  readonly name: string;
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly backend: string;
  readonly backendVariant: string;
  /** Per-candidate outcome of backend selection, for logs and health/metrics. */
  readonly selection: readonly BackendTrial[];
  /** Which backend runs and why ("cpu (measured on this host: …)"), for the `model loaded` log line. */
  readonly selectionReason?: string;
}

/** What an engine's prefix cache could reuse now: its block size and the block keys its slots hold. */
export interface HeldPrefixes {
  readonly blockTokens: number;
  readonly keys: readonly string[];
  /** Prompt positions served from the cache so far (EngineStats.prefixHitTokens). */
  readonly hitTokens: number;
}

export type ToThread =
  | { readonly type: 'generate'; readonly id: string; readonly request: EngineRequest; readonly trace?: Readonly<Record<string, string>> }
  | { readonly type: 'cancel'; readonly id: string }
  | { readonly type: 'tokenize'; readonly rid: number; readonly text: string; readonly chat: boolean }
  /** Distributed mode: the thread opens its own Redis connection and writes its jobs' events there itself. */
  | { readonly type: 'connect'; readonly rid: number; readonly redisUrl: string }
  /** Run a queued job (runJob inside the thread); answered by 'ran'. */
  | { readonly type: 'run'; readonly rid: number; readonly job: InferenceJob; readonly workerId: string; readonly trace: Readonly<Record<string, string>> }
  | { readonly type: 'stop'; readonly rid: number; readonly reason: StopReason }
  /** The prefix-cache block keys the engine's slots hold (a worker's routing report); answered by 'prefixes'. */
  | { readonly type: 'prefixes'; readonly rid: number }
  /** The engine's counters (prefix cache, prompt lookup) for the metrics endpoint; answered by 'stats'. */
  | { readonly type: 'stats'; readonly rid: number }
  | { readonly type: 'close' };

/** One generation's event, or its failure (its last item). */
export type StreamItem = { readonly id: string; readonly event: GenerateEvent } | { readonly id: string; readonly error: WireError };

export type FromThread =
  | { readonly type: 'ready'; readonly info: ServedModelInfo }
  | { readonly type: 'fatal'; readonly error: WireError }
  /** What the generations produced since the last message, in order (one message per decode step, not per token). */
  | { readonly type: 'events'; readonly items: readonly StreamItem[] }
  | { readonly type: 'tokenized'; readonly rid: number; readonly ids?: number[]; readonly error?: WireError }
  | { readonly type: 'connected'; readonly rid: number }
  | { readonly type: 'prefixes'; readonly rid: number; readonly held: HeldPrefixes }
  | { readonly type: 'stats'; readonly rid: number; readonly stats: EngineStats }
  /** A queued job's end: its outcome and attempt, or why it failed (its events could not be written). */
  | { readonly type: 'ran'; readonly rid: number; readonly outcome?: RunOutcome; readonly attempt?: number; readonly error?: WireError }
  | { readonly type: 'log'; readonly msg: string; readonly fields: Record<string, unknown> }
  | { readonly type: 'closed' };
