/**
 * What travels between gateway and worker: the job (BullMQ job data, or a direct call in standalone mode) and the
 * per-request event log (a Redis Stream in distributed mode). Both sides import this file, so it is the contract.
 */
import type { EngineRequest, FinishReason, Timings, TokenLogprob, Usage } from '@trine/core';

export interface InferenceJob {
  /** Request id; also the BullMQ job id and the event stream's key suffix. */
  readonly requestId: string;
  readonly model: string;
  /** Validated by the gateway. `sampling.seed` is always set (the gateway draws one if the client gave none),
   *  so a re-run after a worker crash regenerates the same tokens. JSON through Redis: `sampling.logitBias` keys
   *  arrive as strings ("42"), which the engine reads as ids. `promptLookup` is the request's draft length. */
  readonly request: EngineRequest;
  /** Absolute deadline, epoch ms: a job past it never starts, and a running one stops. */
  readonly deadline: number;
  /** When the gateway accepted the request, epoch ms (for queue time and TTFT). */
  readonly acceptedAt: number;
  /** W3C trace context (traceparent/tracestate) injected by the gateway. */
  readonly trace: Readonly<Record<string, string>>;
}

/** The error codes a worker can end a request with (TrineError codes, mapped to gRPC status by the gateway). */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

/**
 * One entry of a request's event log. `attempt` numbers the run of the job (1, 2, … after a crash); the gateway
 * follows only the newest attempt, so a zombie run that lost its lock can never inject tokens.
 */
export type StreamEvent =
  | { readonly t: 'start'; readonly attempt: number; readonly worker: string; readonly queueMs: number }
  | {
      readonly t: 'tok';
      readonly attempt: number;
      /** 0-based index among generated tokens. */
      readonly i: number;
      readonly id: number;
      readonly text: string;
      readonly logprob?: number;
      /** The alternatives, each with its token's `bytes` (added by the engine thread; absent from older workers). */
      readonly top?: readonly TokenLogprob[];
      /** Worker clock, epoch ms, when the token was produced. */
      readonly at: number;
    }
  | {
      readonly t: 'done';
      readonly attempt: number;
      readonly finish: FinishReason;
      readonly usage: Usage;
      readonly timings: Timings;
      /** Text held back until the end. */
      readonly text: string;
      readonly at: number;
    }
  | { readonly t: 'err'; readonly attempt: number; readonly error: WireError };

/** Redis key names. One prefix so a deployment can share a Redis (and a Cluster can hash-tag it later). */
export const keys = {
  prefix: 'trine',
  queueName: 'trine-inference',
  stream: (requestId: string) => `trine:ev:${requestId}`,
  attempts: (requestId: string) => `trine:attempts:${requestId}`,
  cancelled: (requestId: string) => `trine:cancelled:${requestId}`,
  cancelChannel: 'trine:cancel',
} as const;

/** Why a run was stopped from outside. Only `cancel` and `deadline` end the request; the others hand it back. */
export type StopReason = 'cancel' | 'deadline' | 'lock-lost' | 'shutdown';

/** How a run ended (a BullMQ job's return value). */
export type RunOutcome = 'done' | 'failed' | 'cancelled' | 'expired' | 'handed-back';

/** Event streams and markers outlive a request by this long (a reconnecting gateway can still read them). */
export const EVENT_TTL_MS = 10 * 60_000;
