/**
 * What a request is inside the gateway, whichever front received it (gRPC today, OpenAI-compatible HTTP next):
 * the call as the front decoded it, a context the steps fill in, and the sink the answer goes to. No transport
 * types here: a front maps its own request into a Call and the sink's calls onto its own messages.
 */
import type { GenerateRequest, Timings, TokenizeRequest } from '@trine/proto';
import type { CachedResponse, CachedToken } from '../cache.js';
import type { ValidatedRequest } from '../validate.js';

export type Transport = 'grpc' | 'http';

/** A client's call as a front hands it over. */
export interface Call<R> {
  readonly request: R;
  /** The `authorization` header's value (`Bearer <key>`); undefined when the client sent none. */
  readonly authorization: string | undefined;
  /** Why the transport could not decode the request body, if it could not (refused as INVALID_ARGUMENT). */
  readonly undecodable?: string;
  /** The field the undecodable part of the body is in (HTTP names the JSON parameter); 'request' when not given. */
  readonly undecodableField?: string;
  /** The front that received the call: the seam labels metrics with it. */
  readonly transport?: Transport;
  /** The client's own deadline, epoch ms (Infinity: none). */
  readonly deadline: number;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

/** The final answer of a generation, as a front renders it. */
export type FinalResult = Omit<CachedResponse, 'tokens'> & { cached: boolean; timings: Timings; id: string; model: string };

/** Where a generation's answer goes, in order: token batches, a restart marker (discard what came), the end. */
export interface GenerateSink {
  tokens(tokens: readonly CachedToken[]): Promise<void>;
  restart(): Promise<void>;
  done(result: FinalResult): Promise<void>;
}

export type Operation = 'generate' | 'tokenize' | 'list-models';

/** What every request carries through the steps. */
export interface RequestContext {
  readonly operation: Operation;
  /** The caller's API key once `auth` ran ('' when auth is off): its identity for rate limits. */
  apiKey: string;
}

export interface GenerateContext extends RequestContext {
  readonly operation: 'generate';
  readonly call: Call<GenerateRequest>;
  readonly requestId: string;
  /** When the gateway accepted the request: epoch ms (the job's clock) and performance.now() (its timings). */
  readonly acceptedAt: number;
  readonly t0: number;
  /** Where the answer goes. */
  readonly sink: GenerateSink;
  validated?: ValidatedRequest;
  /** The request's absolute deadline, epoch ms (set by `admission`). */
  deadline?: number;
  /** Answered from the response cache. */
  cached?: boolean;
  /** Stores a finished answer before it goes out (set by `cache` on a miss). */
  remember?: (result: CachedResponse) => Promise<void>;
  /** How the relay handled worker restarts (set when the answer came from a worker). */
  restarts?: { readonly continued: number; readonly signalled: number };
}

export interface TokenizeContext extends RequestContext {
  readonly operation: 'tokenize';
  readonly call: Call<TokenizeRequest>;
  tokenIds?: number[];
}

export interface ListModelsContext extends RequestContext {
  readonly operation: 'list-models';
  readonly call: Call<unknown>;
  models?: readonly { readonly name: string; readonly contextLength: number; readonly vocabSize: number }[];
}

/** A step either lets the request go on or answers it (the rest of the chain is skipped). */
export const ANSWERED = Symbol('answered');
export type StepResult = void | typeof ANSWERED;

export interface Step<C extends RequestContext> {
  /** The name the seam sees (span names, step metrics). */
  readonly name: string;
  /** `emit` tells the seam what the step found (a cache hit or miss). */
  run(ctx: C, emit: (e: PipelineEvent) => void): Promise<StepResult> | StepResult;
}

/** What the seam hears besides the steps themselves. */
export type PipelineEvent =
  | { readonly type: 'received' }
  | { readonly type: 'cache'; readonly hit: boolean }
  | { readonly type: 'completed' }
  | { readonly type: 'failed'; readonly error: unknown };

/**
 * The one seam where metrics and tracing attach: every step runs through `step`, and the request's milestones
 * come to `event`. Steps know nothing of either.
 */
export interface PipelineObserver {
  step<T>(name: string, ctx: RequestContext, run: () => Promise<T>): Promise<T>;
  event(ctx: RequestContext, e: PipelineEvent): void;
}
