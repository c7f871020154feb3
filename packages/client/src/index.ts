/**
 * @trine/client: the generated stubs (re-exported from @trine/proto) and `TrineClient`, a small wrapper with
 * promises and async iterators, per-call deadlines, an API key, and retries on UNAVAILABLE with exponential
 * backoff — for unary calls, and for streams only until their first message (a started stream is never re-sent).
 */
import { ChannelCredentials, credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import {
  GenerateRequest,
  InferenceClient,
  type GenerateResponse,
  type GenerateStreamResponse,
  type ModelInfo,
} from '@trine/proto';

export * from '@trine/proto';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface TrineClientOptions {
  /** `host:port` (default 127.0.0.1:50051, the server's TRINE_LISTEN default). */
  readonly address?: string;
  /** Sent as `authorization: Bearer <key>`. */
  readonly apiKey?: string;
  /** Default: insecure (plain TCP). Use `credentials.createSsl(ca, key, cert)` for TLS / mTLS. */
  readonly credentials?: ChannelCredentials;
  /** Deadline per call when the call gives none (default 60 s). */
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Extra grpc-js channel options. */
  readonly channelOptions?: Record<string, string | number>;
}

export interface CallOpts {
  readonly deadlineMs?: number;
  /** Aborting cancels the call (the server stops generating). */
  readonly signal?: AbortSignal;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2000 };

export type GenerateInput = Partial<GenerateRequest> & ({ prompt: string } | { messages: GenerateRequest['messages'] });

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** What grpc-js rejects a call cancelled on the client with, for a signal that aborted before a call was made. */
function cancelled(): ServiceError {
  return Object.assign(new Error(`${status.CANCELLED} CANCELLED: Cancelled on client`), { code: status.CANCELLED, details: 'Cancelled on client', metadata: new Metadata() });
}

function isUnavailable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as ServiceError).code === status.UNAVAILABLE;
}

export class TrineClient {
  readonly stub: InferenceClient;
  private readonly retry: RetryPolicy;
  private readonly deadlineMs: number;

  constructor(private readonly options: TrineClientOptions = {}) {
    this.stub = new InferenceClient(options.address ?? '127.0.0.1:50051', options.credentials ?? credentials.createInsecure(), options.channelOptions);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.deadlineMs = options.deadlineMs ?? 60_000;
  }

  private metadata(): Metadata {
    const m = new Metadata();
    if (this.options.apiKey) m.set('authorization', `Bearer ${this.options.apiKey}`);
    return m;
  }

  private callOptions(deadline: number): CallOptions {
    return { deadline };
  }

  /** Backoff before attempt `n` (1-based retries): exponential with full jitter. */
  private backoff(n: number): number {
    const cap = Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** (n - 1));
    return Math.random() * cap;
  }

  private async unary<T>(o: CallOpts | undefined, start: (md: Metadata, opts: CallOptions, cb: (e: ServiceError | null, v?: T) => void) => { cancel(): void }): Promise<T> {
    const deadline = Date.now() + (o?.deadlineMs ?? this.deadlineMs);
    for (let attempt = 1; ; attempt++) {
      // A signal that aborted before this attempt (or during the backoff before it) fires no 'abort' event again.
      if (o?.signal?.aborted) throw cancelled();
      try {
        return await new Promise<T>((resolve, reject) => {
          const call = start(this.metadata(), this.callOptions(deadline), (e, v) => (e ? reject(e) : resolve(v as T)));
          o?.signal?.addEventListener('abort', () => call.cancel(), { once: true });
        });
      } catch (e) {
        const wait = this.backoff(attempt);
        if (!isUnavailable(e) || attempt >= this.retry.maxAttempts || Date.now() + wait >= deadline || o?.signal?.aborted) throw e;
        await sleep(wait, o?.signal);
      }
    }
  }

  generate(input: GenerateInput, o?: CallOpts): Promise<GenerateResponse> {
    const req = GenerateRequest.fromPartial(input);
    return this.unary<GenerateResponse>(o, (md, opts, cb) => this.stub.generate(req, md, opts, cb));
  }

  /** Tokens as they come. Retried on UNAVAILABLE only before the first message arrives. */
  async *stream(input: GenerateInput, o?: CallOpts): AsyncGenerator<GenerateStreamResponse, void, undefined> {
    const req = GenerateRequest.fromPartial(input);
    const deadline = Date.now() + (o?.deadlineMs ?? this.deadlineMs);
    for (let attempt = 1; ; attempt++) {
      if (o?.signal?.aborted) throw cancelled();
      const call = this.stub.generateStream(req, this.metadata(), this.callOptions(deadline));
      const onAbort = (): void => call.cancel();
      o?.signal?.addEventListener('abort', onAbort, { once: true });
      let received = false;
      try {
        for await (const msg of call) {
          received = true;
          yield msg as GenerateStreamResponse;
        }
        return;
      } catch (e) {
        const wait = this.backoff(attempt);
        if (received || !isUnavailable(e) || attempt >= this.retry.maxAttempts || Date.now() + wait >= deadline || o?.signal?.aborted) throw e;
        await sleep(wait, o?.signal);
      } finally {
        o?.signal?.removeEventListener('abort', onAbort);
        // A consumer that stops early cancels the call, so the server stops generating.
        call.cancel();
      }
    }
  }

  async tokenize(text: string, opts: { model?: string; chat?: boolean } & CallOpts = {}): Promise<number[]> {
    const r = await this.unary<{ tokenIds: number[] }>(opts, (md, co, cb) =>
      this.stub.tokenize({ text, model: opts.model ?? '', chat: opts.chat ?? false }, md, co, cb),
    );
    return r.tokenIds;
  }

  async listModels(o?: CallOpts): Promise<ModelInfo[]> {
    const r = await this.unary<{ models: ModelInfo[] }>(o, (md, co, cb) => this.stub.listModels({}, md, co, cb));
    return r.models;
  }

  close(): void {
    this.stub.close();
  }
}
