/**
 * Telemetry as middleware around the Inference handlers: GenAI attributes on the request's span (the gRPC server
 * span of instrumentation-grpc, active when a handler is called), request metrics from the final response's usage
 * and timings, and one access-log line per call. The handlers themselves know nothing of it.
 */
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceError, UntypedServiceImplementation } from '@grpc/grpc-js';
import { metrics, trace, type Attributes, type Span } from '@opentelemetry/api';
import { FinishReason, type GenerateRequest, type Timings, type Usage } from '@trine/proto';
import { activeTelemetry, createLogger, GEN_AI, requestInstruments, type Logger, type RequestInstruments } from '@trine/telemetry';
import { requestAttributes, responseAttributes } from './genai.js';

const FINISH_NAMES: Record<number, string> = {
  [FinishReason.FINISH_REASON_STOP]: 'stop',
  [FinishReason.FINISH_REASON_LENGTH]: 'length',
  [FinishReason.FINISH_REASON_CANCELLED]: 'cancelled',
};

/** What the final message of Generate / GenerateStream carries. */
interface FinalResponse {
  readonly id?: string;
  readonly model?: string;
  readonly finishReason?: FinishReason;
  readonly usage?: Usage;
  readonly timings?: Timings;
  readonly cached?: boolean;
}

export interface HandlerTelemetryOptions {
  /** Access log (one line per call, with trace ids); none when undefined. */
  readonly log?: Logger;
}

let instruments: RequestInstruments | undefined;

class CallObserver {
  private readonly started = performance.now();
  private readonly span: Span | undefined = trace.getActiveSpan();
  private readonly base: Attributes;
  private final: FinalResponse | undefined;
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly request: unknown,
    private readonly log: Logger | undefined,
  ) {
    instruments ??= requestInstruments(metrics.getMeter('@trine/gateway'));
    this.base = { 'rpc.method': method };
    if (method === 'Generate' || method === 'GenerateStream') {
      const attrs = requestAttributes(request as Partial<GenerateRequest> | undefined);
      this.span?.setAttributes(attrs);
      this.base = { ...this.base, [GEN_AI.operationName]: attrs[GEN_AI.operationName] };
    }
  }

  /** The response that ends a generation: set its attributes before the span ends. */
  response(m: FinalResponse): void {
    this.final = m;
    const finish = m.finishReason !== undefined ? FINISH_NAMES[m.finishReason] : undefined;
    this.span?.setAttributes(
      responseAttributes(this.request as Partial<GenerateRequest> | undefined, {
        ...(m.id ? { id: m.id } : {}),
        ...(m.model ? { model: m.model } : {}),
        ...(m.usage ? { inputTokens: m.usage.inputTokens, outputTokens: m.usage.outputTokens } : {}),
        ...(finish ? { finishReasons: [finish] } : {}),
        cached: Boolean(m.cached),
      }),
    );
  }

  end(code: number, error?: string): void {
    if (this.settled) return;
    this.settled = true;
    const seconds = (performance.now() - this.started) / 1000;
    const ins = instruments!;
    ins.rpcRequests.add(1, { ...this.base, 'rpc.grpc.status_code': code });
    const f = this.final;
    if (f && code === 0) {
      const attrs: Attributes = { ...this.base, [GEN_AI.responseModel]: f.model ?? '', 'trine.cached': Boolean(f.cached) };
      ins.requestDuration.record(seconds, attrs);
      const t = f.timings;
      if (t) ins.timeToFirstToken.record(t.timeToFirstTokenMs / 1000, attrs);
      if (f.usage) {
        ins.tokens.add(f.usage.inputTokens, { ...attrs, [GEN_AI.tokenType]: 'input' });
        ins.tokens.add(f.usage.outputTokens, { ...attrs, [GEN_AI.tokenType]: 'output' });
      }
      // Decode speed only where tokens were decoded (not served from the cache).
      if (t && !f.cached && t.perTokenMs > 0) {
        ins.timePerOutputToken.record(t.perTokenMs / 1000, attrs);
        ins.decodeRate.record(1000 / t.perTokenMs, attrs);
      }
    }
    this.log?.('rpc', {
      method: this.method,
      code,
      ms: Math.round(seconds * 1e4) / 10,
      ...(f?.id ? { requestId: f.id } : {}),
      ...(f?.usage ? { inputTokens: f.usage.inputTokens, outputTokens: f.usage.outputTokens } : {}),
      ...(f?.finishReason !== undefined ? { finish: FINISH_NAMES[f.finishReason] } : {}),
      ...(error ? { error } : {}),
    });
  }
}

const METHOD_NAMES: Record<string, string> = { generate: 'Generate', generateStream: 'GenerateStream', tokenize: 'Tokenize', listModels: 'ListModels' };

function wrapUnary(name: string, handler: (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void, log: Logger | undefined) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    const obs = new CallObserver(name, call.request, log);
    call.on('cancelled', () => obs.end(1, 'cancelled by the client'));
    handler(call, (err, value, ...rest) => {
      if (err) obs.end((err as Partial<ServiceError>).code ?? 2, (err as Partial<ServiceError>).details ?? (err as Partial<ServiceError>).message);
      else {
        if (value && typeof value === 'object' && 'usage' in value) obs.response(value as FinalResponse);
        obs.end(0);
      }
      callback(err, value, ...rest);
    });
  };
}

function wrapServerStream(name: string, handler: (call: ServerWritableStream<unknown, unknown>) => void, log: Logger | undefined) {
  return (call: ServerWritableStream<unknown, unknown>): void => {
    const obs = new CallObserver(name, call.request, log);
    const write = call.write.bind(call) as (chunk: unknown, ...rest: unknown[]) => boolean;
    (call as { write: typeof write }).write = (chunk: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk === 'object' && (chunk as { done?: boolean }).done) obs.response(chunk as FinalResponse);
      return write(chunk, ...rest);
    };
    call.once('finish', () => obs.end(0));
    call.once('error', (e: Partial<ServiceError>) => obs.end(e.code ?? 2, e.message));
    call.once('cancelled', () => obs.end(1, 'cancelled by the client'));
    handler(call);
  };
}

/** Wraps the Inference service implementation (generate, generateStream, tokenize, listModels). */
export function instrumentHandlers<T extends UntypedServiceImplementation>(impl: T, options: HandlerTelemetryOptions = {}): T {
  const out: UntypedServiceImplementation = {};
  for (const [key, fn] of Object.entries(impl)) {
    const name = METHOD_NAMES[key] ?? key;
    out[key] = key === 'generateStream' ? wrapServerStream(name, fn as never, options.log) : wrapUnary(name, fn as never, options.log);
  }
  return out as T;
}

/** The access log: on where the process runs the telemetry bootstrap, unless TRINE_ACCESS_LOG=off. */
export function accessLogFromEnv(env: NodeJS.ProcessEnv = process.env): Logger | undefined {
  if (activeTelemetry() === undefined || env.TRINE_ACCESS_LOG === 'off') return undefined;
  return createLogger(env.OTEL_SERVICE_NAME || 'trine-gateway');
}
