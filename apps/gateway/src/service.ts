/**
 * The Inference service's gRPC front: turns a grpc-js call into the pipeline's Call, the pipeline's answer into
 * GenerateResponse / GenerateStreamResponse messages, and a TrineError into a gRPC status (`toServiceError`, at
 * the very edge). What a request goes through is the pipeline's (pipeline/pipeline.ts), the same for every front.
 */
import type { Deadline, Metadata, sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { FinishReason as CoreFinish, TokenLogprob } from '@trine/core';
import {
  FinishReason,
  type GenerateRequest,
  type GenerateResponse,
  type GenerateStreamResponse,
  type ListModelsRequest,
  type ListModelsResponse,
  type Token,
  type TokenLogprob as ProtoTokenLogprob,
  type TokenizeRequest,
  type TokenizeResponse,
} from '@trine/proto';
import type { CachedToken } from './cache.js';
import { drained } from './drain.js';
import { toServiceError } from './errors.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { Call, GenerateSink } from './pipeline/types.js';
import { wasUndecodable } from './utf8.js';

const FINISH: Record<CoreFinish, FinishReason> = {
  stop: FinishReason.FINISH_REASON_STOP,
  length: FinishReason.FINISH_REASON_LENGTH,
  cancelled: FinishReason.FINISH_REASON_CANCELLED,
};

function toToken(t: CachedToken): Token {
  return { index: t.i, id: t.id, text: t.text, logprob: t.logprob, topLogprobs: (t.top ?? []).map(alternative) };
}

const lossy = new TextDecoder('utf-8');

/** An alternative with its token's text and bytes (absent from a worker that predates them: empty). */
function alternative(x: TokenLogprob): ProtoTokenLogprob {
  const bytes = Buffer.from(x.bytes ?? []);
  return { tokenId: x.tokenId, logprob: x.logprob, text: lossy.decode(bytes), bytes };
}

/** What the front reads of any grpc-js server call. */
interface CallLike<R> {
  readonly metadata: Metadata;
  readonly request: R;
  getDeadline(): Deadline;
}

/** A grpc-js call as the pipeline's Call. */
function callOf<R>(call: CallLike<R>, signal: AbortSignal): Call<R> {
  const values = call.metadata.get('authorization');
  const d = call.getDeadline();
  return {
    request: call.request,
    authorization: typeof values[0] === 'string' ? values[0] : undefined,
    ...(call.request && wasUndecodable(call.request) ? { undecodable: 'not a valid protobuf message' } : {}),
    deadline: d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : Infinity,
    signal,
    transport: 'grpc',
  };
}

/** A signal aborted when the client cancels the call. */
function cancelledSignal(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const cancelled = new AbortController();
  call.on('cancelled', () => cancelled.abort());
  return cancelled.signal;
}

const never = new AbortController().signal;

export class InferenceHandlers {
  constructor(private readonly pipeline: Pipeline) {}

  generateStream = (call: ServerWritableStream<GenerateRequest, GenerateStreamResponse>): void => {
    const cancelled = cancelledSignal(call);
    // Back-pressure: wait for 'drain' — unless the call is gone, in which case no drain will ever come.
    const write = (msg: GenerateStreamResponse): Promise<void> => (call.cancelled || call.write(msg) ? Promise.resolve() : drained(call, cancelled));
    const empty = { id: '', tokens: [], text: '', restarted: false, done: false, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined, timings: undefined, cached: false, model: '' };
    const sink: GenerateSink = {
      tokens: (ts) => write({ ...empty, tokens: ts.map(toToken), text: ts.map((t) => t.text).join('') }),
      restart: () => write({ ...empty, restarted: true }),
      done: (r) =>
        write({ ...empty, id: r.id, model: r.model, text: r.tail, done: true, finishReason: FINISH[r.finish], usage: r.usage, timings: r.timings, cached: r.cached }),
    };
    this.pipeline.generate(callOf(call, cancelled), sink).then(
      () => call.end(),
      (e: unknown) => {
        if (!call.cancelled) call.emit('error', toServiceError(e));
      },
    );
  };

  generate = (call: ServerUnaryCall<GenerateRequest, GenerateResponse>, callback: sendUnaryData<GenerateResponse>): void => {
    let tokens: CachedToken[] = [];
    const sink: GenerateSink = {
      tokens: async (ts) => void tokens.push(...ts),
      restart: async () => void (tokens = []),
      done: async (r) =>
        callback(null, {
          id: r.id,
          model: r.model,
          text: tokens.map((t) => t.text).join('') + r.tail,
          tokenIds: tokens.map((t) => t.id),
          finishReason: FINISH[r.finish],
          usage: r.usage,
          timings: r.timings,
          cached: r.cached,
          tokens: call.request.topLogprobs ? tokens.map(toToken) : [],
        }),
    };
    this.pipeline.generate(callOf(call, cancelledSignal(call)), sink).catch((e: unknown) => callback(toServiceError(e)));
  };

  tokenize = (call: ServerUnaryCall<TokenizeRequest, TokenizeResponse>, callback: sendUnaryData<TokenizeResponse>): void => {
    this.pipeline.tokenize(callOf(call, never)).then(
      (tokenIds) => callback(null, { tokenIds }),
      (e: unknown) => callback(toServiceError(e)),
    );
  };

  listModels = (call: ServerUnaryCall<ListModelsRequest, ListModelsResponse>, callback: sendUnaryData<ListModelsResponse>): void => {
    this.pipeline.listModels(callOf(call, never)).then(
      (models) => callback(null, { models: models.map((m, i) => ({ name: m.name, contextLength: m.contextLength, vocabSize: m.vocabSize, isDefault: i === 0 })) }),
      (e: unknown) => callback(toServiceError(e)),
    );
  };
}
