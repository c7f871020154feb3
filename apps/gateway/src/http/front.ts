/**
 * The OpenAI-compatible HTTP front: Node's http server turning a request into the pipeline's Call and the
 * pipeline's answer into OpenAI's JSON or server-sent events — the second front over the same pipeline as gRPC
 * (service.ts), so auth, rate limits, validation, policy, cache, admission and the relay are the pipeline's.
 * What is HTTP's own: the body's size (413), its content type (415) and encoding (400), routing, the web chat's
 * static files, the server span, and a vanished client aborting its call.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import { TrineError, type FinishReason } from '@trine/core';
import type { GenerateRequest } from '@trine/proto';
import type { CachedToken } from '../cache.js';
import type { TlsConfig } from '../config.js';
import { drained } from '../drain.js';
import { recordAnswer, requestAttributes } from '../otel/genai.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Call, FinalResult, GenerateSink } from '../pipeline/types.js';
import { retryAfterMs } from '../rate-limit.js';
import { BadParam, chunkBody, completionBody, fromOpenAi, httpError, usageChunk, type Answer, type Choice, type Endpoint, type HttpGenerate } from './openai.js';
import { staticFiles, type StaticFile } from './static.js';

export interface HttpFrontOptions {
  /** `host:port`; port 0 picks one. */
  readonly listen: string;
  readonly tls?: TlsConfig;
  /** Bodies beyond this are refused with 413 before they are buffered (TRINE_MAX_MESSAGE_BYTES, as gRPC's limit). */
  readonly maxBodyBytes: number;
  /** True exactly while grpc.health says SERVING. */
  readonly serving: () => boolean;
  /** The model a request without `model` gets (streamed chunks name it before the final result does). */
  readonly defaultModel: () => string;
  /** Most choices (`n`) one request may ask for (each is a job: at most the queue's bound); default MAX_CHOICES. */
  readonly maxChoices?: number;
}

const tracer = trace.getTracer('@trine/gateway');
const API_ROUTES = new Set(['/v1/chat/completions', '/v1/completions', '/v1/models', '/health']);
const JSON_TYPE = /^application\/json\s*(;|$)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why the body is not a request, as the status to answer with (before the pipeline: the transport's own refusals). */
class BodyError extends Error {
  constructor(readonly status: number, readonly param: string | null, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res: ServerResponse, e: unknown, rename?: Record<string, string>): number {
  const { status, body } = httpError(e, rename);
  const retry = status === 429 ? retryAfterMs(e) : undefined;
  sendJson(res, status, body, retry !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(retry / 1000))) } : {});
  return status;
}

/**
 * Reads the body into one buffer, refusing beyond `max` bytes as it counts (a declared content-length is checked
 * before anything is read), so no allocation is sized by the client.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.reject(new BodyError(413, null, `the body is larger than ${max} bytes`));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer): void => {
      size += d.length;
      if (size > max) {
        req.off('data', onData);
        req.resume(); // discard the rest rather than hold it
        reject(new BodyError(413, null, `the body is larger than ${max} bytes`));
      } else parts.push(d);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(parts, size)));
    req.once('error', reject);
    // A client that closes mid-upload sends no 'end': settle (a no-op after 'end') so nothing waits forever.
    req.once('close', () => reject(new BodyError(400, null, 'the connection closed before the body was complete')));
  });
}

/** The body as JSON: 415 for another content type, 400 for invalid UTF-8 or malformed JSON. */
async function jsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) throw new BodyError(415, null, 'the body must be application/json');
  const raw = await readBody(req, max);
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BodyError(400, null, 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BodyError(400, null, `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

/** A signal aborted when the client goes away before the answer was sent in full. */
function goneSignal(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}

export class HttpFront {
  private readonly server: Server;
  private readonly files: ReadonlyMap<string, StaticFile>;
  /** Open SSE streams (tests and shutdown read it). */
  openStreams = 0;
  port = 0;

  constructor(private readonly pipeline: Pipeline, private readonly options: HttpFrontOptions) {
    this.files = staticFiles();
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const { tls } = options;
    // Bounds on a slow or idle client: the whole request head + body within 30 s; idle keep-alive sockets close.
    const common = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };
    this.server = tls
      ? createHttpsServer({ ...common, cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert }, handler)
      : createHttpServer(common, handler);
  }

  async listen(): Promise<number> {
    const i = this.options.listen.lastIndexOf(':');
    const host = this.options.listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.options.listen.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Stops accepting connections; the gateway drains generations (the pipeline's inflight) before this. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    // Span names name a route, never a client's arbitrary path (unbounded names would flood the trace backend).
    const known = API_ROUTES.has(path) || path === '/' || this.files.has(path);
    const route = known ? `${req.method} ${path}` : `${req.method}`;
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(route, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'url.path': path, ...(known ? { 'http.route': path } : {}) } }, parent);
    const active = trace.setSpan(parent, span);
    try {
      const status = await context.with(active, () => this.route(req, res, path));
      this.end(span, status);
    } catch (e) {
      // A bug, not a refusal: the client gets 500 without the message.
      this.end(span, sendError(res, e), e);
    }
  }

  private end(span: Span, status: number, e?: unknown): void {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(e instanceof Error ? { message: e.message } : {}) });
    span.end();
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<number> {
    const method = req.method ?? 'GET';
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      if (method !== 'POST') return this.notAllowed(res, 'POST');
      return this.generate(req, res, path === '/v1/chat/completions' ? 'chat' : 'completion');
    }
    if (path === '/v1/models') return method === 'GET' ? this.models(req, res) : this.notAllowed(res, 'GET');
    if (path === '/health') {
      const ok = this.options.serving();
      sendJson(res, ok ? 200 : 503, { status: ok ? 'SERVING' : 'NOT_SERVING' });
      return ok ? 200 : 503;
    }
    const file = this.files.get(path === '/' ? '/index.html' : path);
    if (file && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.data.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(method === 'HEAD' ? undefined : file.data);
      return 200;
    }
    sendJson(res, 404, { error: { message: `no route ${method} ${path.slice(0, 200)}`, type: 'invalid_request_error', param: null, code: 'not_found' } });
    return 404;
  }

  private notAllowed(res: ServerResponse, allow: string): number {
    sendJson(res, 405, { error: { message: `use ${allow}`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } }, { allow });
    return 405;
  }

  private call<R>(req: IncomingMessage, request: R, signal: AbortSignal, bad?: BadParam): Call<R> {
    const auth = req.headers.authorization;
    return {
      request,
      authorization: typeof auth === 'string' ? auth : undefined,
      ...(bad ? { undecodable: bad.message, undecodableField: bad.param || 'request' } : {}),
      transport: 'http',
      deadline: Infinity,
      signal,
    };
  }

  private async models(req: IncomingMessage, res: ServerResponse): Promise<number> {
    try {
      const models = await this.pipeline.listModels(this.call(req, {}, new AbortController().signal));
      sendJson(res, 200, { object: 'list', data: models.map((m) => ({ id: m.name, object: 'model', created: 0, owned_by: 'trine', context_length: m.contextLength })) });
      return 200;
    } catch (e) {
      return sendError(res, e);
    }
  }

  private async generate(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): Promise<number> {
    let body: unknown;
    try {
      body = await jsonBody(req, this.options.maxBodyBytes);
    } catch (e) {
      if (!(e instanceof BodyError)) throw e;
      // The rest of a refused body is not read: close the connection instead of keeping it for another request.
      sendJson(res, e.status, { error: { message: e.message, type: 'invalid_request_error', param: e.param, code: e.status === 400 ? 'invalid_body' : null } }, { connection: 'close' });
      return e.status;
    }
    // A body that is JSON but not a request still goes through the pipeline, so auth is checked before it is refused.
    let parsed: HttpGenerate | undefined;
    let bad: BadParam | undefined;
    try {
      parsed = fromOpenAi(body, endpoint, this.options.maxChoices);
    } catch (e) {
      if (!(e instanceof BadParam)) throw e;
      bad = e;
    }
    const request: GenerateRequest = parsed?.request ?? { model: '', prompt: '', messages: [], stop: [], logitBias: {}, responseFormat: undefined };
    const rename = parsed?.rename ?? {};
    const signal = goneSignal(res);
    const answer: Answer = { id: randomUUID(), created: Math.floor(Date.now() / 1000), endpoint, logprobs: parsed?.logprobs };
    const stream = parsed?.stream ?? false;
    const n = parsed?.n ?? 1;
    const sink = stream ? this.streamSink(res, answer, n, request.model || this.options.defaultModel(), parsed!.includeUsage, signal) : this.jsonSink(res, answer, n);
    // The server span (active here) gets the GenAI attributes the gRPC server span gets, once the body is a request.
    const span = parsed ? trace.getActiveSpan() : undefined;
    span?.setAttributes(requestAttributes(request));
    try {
      await this.choices(req, request, n, signal, bad, recordAnswer(span, request, sink.sinks));
      if (!res.writableEnded) res.end();
      return 200;
    } catch (e) {
      if (!sink.started()) return sendError(res, e, rename);
      // Headers are out: OpenAI's streaming convention for a late failure is an error event, then the end.
      if (!res.destroyed) res.end(`data: ${JSON.stringify(httpError(e, rename).body)}\n\n`);
      return 200;
    } finally {
      sink.close();
    }
  }

  /**
   * Runs the request's `n` choices, each its own request through the pipeline (and so its own sequence in the
   * continuous batch), choice i with the client's seed + i (without a seed each draws its own). The client going,
   * or any choice failing, stops them all; it rejects with the first failure once every choice has ended.
   */
  private async choices(req: IncomingMessage, request: GenerateRequest, n: number, gone: AbortSignal, bad: BadParam | undefined, sinks: readonly GenerateSink[]): Promise<void> {
    if (n === 1) return this.pipeline.generate(this.call(req, request, gone, bad), sinks[0]!);
    const failed = new AbortController();
    const signal = AbortSignal.any([gone, failed.signal]);
    let first: { error: unknown } | undefined;
    const runs = sinks.map((sink, i) => {
      const choice = { ...request, ...(request.seed !== undefined ? { seed: request.seed + BigInt(i) } : {}) };
      return this.pipeline.generate(this.call(req, choice, signal, bad), sink).catch((error: unknown) => {
        first ??= { error };
        failed.abort();
      });
    });
    await Promise.all(runs);
    if (first) throw first.error;
  }

  /** One JSON body once every choice is complete. */
  private jsonSink(res: ServerResponse, a: Answer, n: number) {
    const tokens: CachedToken[][] = Array.from({ length: n }, () => []);
    const results: (FinalResult | undefined)[] = new Array(n);
    let finished = 0;
    const sinks = tokens.map((_, i): GenerateSink => ({
      tokens: async (ts) => void tokens[i]!.push(...ts),
      restart: async () => void (tokens[i] = []),
      done: async (r) => {
        results[i] = r;
        if (++finished === n) sendJson(res, 200, completionBody(a, results.map((result, j): Choice => ({ tokens: tokens[j]!, result: result! }))));
      },
    }));
    return { sinks, started: () => res.headersSent, close: () => undefined };
  }

  /**
   * Server-sent events: the role chunks, a chunk per token of any choice (each naming its choice's index), each
   * choice's finish chunk, then once every choice is done the usage chunk if asked and `[DONE]`.
   */
  private streamSink(res: ServerResponse, a: Answer, n: number, requested: string, includeUsage: boolean, gone: AbortSignal) {
    // The served model's name comes with the final result; until then chunks carry the name the client asked for.
    let model = requested;
    const offsets: number[] = new Array(n).fill(0);
    const results: FinalResult[] = [];
    let started = false;
    let counted = false;
    // Back-pressure: a slow reader holds the relay (and so the job's stream) instead of growing our buffer.
    const write = (data: string): Promise<void> => (gone.aborted || res.destroyed || res.write(data) ? Promise.resolve() : drained(res, gone));
    const event = (body: unknown): Promise<void> => write(`data: ${JSON.stringify(body)}\n\n`);
    const start = (m: string): Promise<void> => {
      if (started) return Promise.resolve();
      started = true;
      counted = true;
      this.openStreams++;
      model = m || model;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      // Chat streams open with the assistant's role (each choice's), as OpenAI's do; completions have no roles.
      if (a.endpoint !== 'chat') return Promise.resolve();
      return write(offsets.map((_, i) => `data: ${JSON.stringify(chunkBody(a, model, i, '', [], null, 0, { role: true, usage: includeUsage }))}\n\n`).join(''));
    };
    const sinks = offsets.map((_, i): GenerateSink => ({
      // One chunk per token, as OpenAI streams (clients count chunks as tokens for their tokens/s); the tokens of
      // one batch go out in one write.
      tokens: async (ts) => {
        await start(model);
        let frames = '';
        for (const t of ts) {
          frames += `data: ${JSON.stringify(chunkBody(a, model, i, t.text, [t], null, offsets[i]!, { usage: includeUsage }))}\n\n`;
          offsets[i]! += t.text.length;
        }
        await write(frames);
      },
      // SSE cannot take back what was sent: a worker that regenerated different text ends the stream with an error.
      restart: async () => {
        if (!started) return;
        throw new TrineError('UNAVAILABLE', 'the worker restarted and generated different text; retry the request');
      },
      done: async (r) => {
        await start(r.model);
        if (r.tail) await event(chunkBody(a, r.model, i, r.tail, [], null, offsets[i]!, { usage: includeUsage }));
        await event(chunkBody(a, r.model, i, '', [], r.finish as FinishReason, offsets[i]!, { usage: includeUsage }));
        results.push(r);
        if (results.length < n) return;
        if (includeUsage) await event(usageChunk(a, results));
        await write('data: [DONE]\n\n');
      },
    }));
    return {
      sinks,
      started: () => started,
      close: () => {
        if (counted) this.openStreams--;
        counted = false;
      },
    };
  }
}
