/**
 * OpenAI's request and response shapes, mapped onto the pipeline's GenerateRequest and back. Only the wire lives
 * here: what a field means (ranges, the model's context, the chat template) is the pipeline's validation, the
 * same as for gRPC. A field of the wrong JSON type, or a control the engine does not have, is refused here with
 * the parameter named; unknown fields are ignored, as OpenAI does.
 */
import { TrineError, type FinishReason } from '@trine/core';
import type { ChatMessage, GenerateRequest } from '@trine/proto';
import type { CachedToken } from '../cache.js';
import type { FinalResult } from '../pipeline/types.js';

export type Endpoint = 'chat' | 'completion';

/** An OpenAI request as the pipeline's GenerateRequest, with what only the HTTP answer needs. */
export interface HttpGenerate {
  readonly request: GenerateRequest;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Log-probabilities to report: undefined when not asked, else how many alternatives per token. */
  readonly logprobs: number | undefined;
  /** The name the client used for the token limit (errors name it as sent). */
  readonly maxTokensParam: 'max_tokens' | 'max_completion_tokens';
}

/** A parameter the client sent that cannot be used: refused by the pipeline's `decoded` step, after auth. */
export class BadParam extends Error {
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const given = (v: unknown): boolean => v !== undefined && v !== null;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** JSON.parse accepts lone surrogates (`"\ud800"`); they are not text and would reach the tokenizer as U+FFFD. */
function str(body: Json, key: string, path = key): string | undefined {
  const v = body[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw new BadParam(path, `must be a string`);
  if (LONE_SURROGATE.test(v)) throw new BadParam(path, `is not valid Unicode (a lone surrogate)`);
  return v;
}

function num(body: Json, key: string): number | undefined {
  const v = body[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadParam(key, `must be a number`);
  return v;
}

function int(body: Json, key: string): number | undefined {
  const v = num(body, key);
  if (v !== undefined && !Number.isInteger(v)) throw new BadParam(key, `must be an integer, got ${v}`);
  return v;
}

function bool(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (!given(v)) return undefined;
  if (typeof v !== 'boolean') throw new BadParam(key, `must be true or false`);
  return v;
}

/**
 * Controls OpenAI and vLLM define that Trine's sampler does not have (core/src/generate/sampling.ts). Their neutral
 * value is accepted; any other is refused rather than silently ignored, so a client never gets output it did not ask for.
 */
const UNSUPPORTED: readonly { key: string; neutral(v: unknown): boolean }[] = [
  { key: 'n', neutral: (v) => v === 1 },
  { key: 'best_of', neutral: (v) => v === 1 },
  { key: 'presence_penalty', neutral: (v) => v === 0 },
  { key: 'frequency_penalty', neutral: (v) => v === 0 },
  { key: 'min_p', neutral: (v) => v === 0 },
  { key: 'logit_bias', neutral: (v) => isObject(v) && Object.keys(v).length === 0 },
  { key: 'echo', neutral: (v) => v === false },
  { key: 'suffix', neutral: (v) => v === '' },
  { key: 'tools', neutral: (v) => Array.isArray(v) && v.length === 0 },
  { key: 'functions', neutral: (v) => Array.isArray(v) && v.length === 0 },
  { key: 'response_format', neutral: (v) => isObject(v) && v.type === 'text' },
];

function refuseUnsupported(body: Json): void {
  for (const { key, neutral } of UNSUPPORTED)
    if (given(body[key]) && !neutral(body[key])) throw new BadParam(key, `is not supported by this server (Trine's sampler has no such control)`);
}

/** OpenAI's content: a string, or a list of parts of which only text parts are understood here. */
function content(m: Json, path: string): string {
  const c = m.content;
  if (!given(c)) return '';
  if (typeof c === 'string') return str(m, 'content', path)!;
  if (!Array.isArray(c)) throw new BadParam(path, `must be a string or a list of text parts`);
  return c
    .map((part: unknown, j) => {
      if (!isObject(part) || part.type !== 'text') throw new BadParam(`${path}[${j}]`, `only text parts are supported`);
      const t = str(part, 'text', `${path}[${j}].text`);
      if (t === undefined) throw new BadParam(`${path}[${j}].text`, `must be a string`);
      return t;
    })
    .join('');
}

/** Bounded before anything is built from it: the pipeline checks the count again against its own limit. */
const MAX_MESSAGES = 4096;

function messages(body: Json): ChatMessage[] {
  const ms = body.messages;
  if (!Array.isArray(ms)) throw new BadParam('messages', 'must be a list of {role, content}');
  if (ms.length > MAX_MESSAGES) throw new BadParam('messages', `more than ${MAX_MESSAGES} messages`);
  return ms.map((m: unknown, i) => {
    if (!isObject(m)) throw new BadParam(`messages[${i}]`, `must be an object`);
    const role = str(m, 'role', `messages[${i}].role`) ?? '';
    // OpenAI's newer name for the system turn.
    return { role: role === 'developer' ? 'system' : role, content: content(m, `messages[${i}].content`) };
  });
}

function prompt(body: Json): string {
  const p = body.prompt;
  if (typeof p === 'string') return str(body, 'prompt')!;
  if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return str({ prompt: p[0] }, 'prompt')!;
  throw new BadParam('prompt', 'must be a string (a list of prompts or of token ids is not supported)');
}

function stops(body: Json): string[] {
  const s = body.stop;
  if (!given(s)) return [];
  if (typeof s === 'string') return [str(body, 'stop')!];
  // The pipeline bounds the count; this bound only keeps a huge list from being copied before it looks.
  if (!Array.isArray(s) || s.length > 64) throw new BadParam('stop', 'must be a string or a list of strings');
  return s.map((x: unknown, i) => {
    if (typeof x !== 'string') throw new BadParam(`stop[${i}]`, `must be a string`);
    return str({ x }, 'x', `stop[${i}]`)!;
  });
}

function seed(body: Json): bigint | undefined {
  const v = int(body, 'seed');
  if (v === undefined) return undefined;
  if (v < 0 || !Number.isSafeInteger(v)) throw new BadParam('seed', `must be an integer in [0, 2^53), got ${v}`);
  return BigInt(v);
}

/** Chat: `logprobs: true` with `top_logprobs: K`. Completions: `logprobs: K` (the legacy API). */
function logprobs(body: Json, endpoint: Endpoint): number | undefined {
  if (endpoint === 'completion') return int(body, 'logprobs');
  const top = int(body, 'top_logprobs');
  if (!bool(body, 'logprobs')) {
    if (top !== undefined && top > 0) throw new BadParam('top_logprobs', 'needs logprobs: true');
    return undefined;
  }
  return top ?? 0;
}

/** Reads an OpenAI request body. Throws BadParam naming the first field that cannot be used. */
export function fromOpenAi(body: unknown, endpoint: Endpoint): HttpGenerate {
  if (!isObject(body)) throw new BadParam('', 'the request body must be a JSON object');
  refuseUnsupported(body);
  const maxCompletion = int(body, 'max_completion_tokens');
  const maxTokens = maxCompletion ?? int(body, 'max_tokens');
  // vLLM's "off" for top_k is -1; the pipeline's is 0.
  const topK = int(body, 'top_k');
  const lp = logprobs(body, endpoint);
  const streamOptions = body.stream_options;
  if (given(streamOptions) && !isObject(streamOptions)) throw new BadParam('stream_options', 'must be an object');
  str(body, 'user'); // accepted as OpenAI does; Trine identifies callers by their API key
  const request: GenerateRequest = {
    model: str(body, 'model') ?? '',
    prompt: endpoint === 'completion' ? prompt(body) : '',
    messages: endpoint === 'chat' ? messages(body) : [],
    maxTokens,
    temperature: num(body, 'temperature'),
    topP: num(body, 'top_p'),
    topK: topK === -1 ? 0 : topK,
    repetitionPenalty: num(body, 'repetition_penalty'),
    seed: seed(body),
    stop: stops(body),
    // The engine reports a token's own log-probability with its alternatives: ask for at least one.
    topLogprobs: lp === undefined ? undefined : Math.max(lp, 1),
  };
  return {
    request,
    stream: bool(body, 'stream') ?? false,
    includeUsage: (isObject(streamOptions) && bool(streamOptions, 'include_usage')) || false,
    logprobs: lp,
    maxTokensParam: maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens',
  };
}

// ---- answers ----

const FINISH: Record<FinishReason, string> = { stop: 'stop', length: 'length', cancelled: 'stop' };

export const usageOf = (r: FinalResult) => ({
  prompt_tokens: r.usage.inputTokens,
  completion_tokens: r.usage.outputTokens,
  total_tokens: r.usage.inputTokens + r.usage.outputTokens,
});

/**
 * Log-probabilities as OpenAI renders them. The gateway holds no detokenizer for alternatives, so an alternative's
 * `token` is empty and its id is given as `token_id` (the sampled token's own text is known).
 */
function chatLogprobs(tokens: readonly CachedToken[], k: number) {
  return {
    content: tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob ?? 0,
      bytes: [...Buffer.from(t.text, 'utf8')],
      top_logprobs: (t.top ?? []).slice(0, k).map((x) => ({ token: '', token_id: x.tokenId, logprob: x.logprob, bytes: null })),
    })),
  };
}

function completionLogprobs(tokens: readonly CachedToken[], k: number, offset: number) {
  let at = offset;
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob ?? 0),
    top_logprobs: tokens.map((t) => Object.fromEntries((t.top ?? []).slice(0, k).map((x) => [String(x.tokenId), x.logprob]))),
    text_offset: tokens.map((t) => ((at += t.text.length), at - t.text.length)),
  };
}

export interface Answer {
  readonly id: string;
  readonly created: number;
  readonly endpoint: Endpoint;
  readonly logprobs: number | undefined;
}

const idOf = (a: Answer): string => (a.endpoint === 'chat' ? 'chatcmpl-' : 'cmpl-') + a.id;

/** The whole answer as one JSON body. */
export function completionBody(a: Answer, tokens: readonly CachedToken[], r: FinalResult): Json {
  const text = tokens.map((t) => t.text).join('') + r.tail;
  const lp = a.logprobs === undefined ? null : a.endpoint === 'chat' ? chatLogprobs(tokens, a.logprobs) : completionLogprobs(tokens, a.logprobs, 0);
  const choice =
    a.endpoint === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: lp, finish_reason: FINISH[r.finish] }
      : { index: 0, text, logprobs: lp, finish_reason: FINISH[r.finish] };
  return {
    id: idOf(a),
    object: a.endpoint === 'chat' ? 'chat.completion' : 'text_completion',
    created: a.created,
    model: r.model,
    choices: [choice],
    usage: usageOf(r),
    system_fingerprint: null,
  };
}

/** One streamed chunk: `text` (and its tokens) as a delta, `finish` on the last choice chunk. */
export function chunkBody(a: Answer, model: string, text: string, tokens: readonly CachedToken[], finish: FinishReason | null, offset: number, opts: { role?: boolean; usage?: boolean } = {}): Json {
  const lp = a.logprobs === undefined || tokens.length === 0 ? null : a.endpoint === 'chat' ? chatLogprobs(tokens, a.logprobs) : completionLogprobs(tokens, a.logprobs, offset);
  const choice =
    a.endpoint === 'chat'
      ? { index: 0, delta: opts.role ? { role: 'assistant', content: text } : text ? { content: text } : {}, logprobs: lp, finish_reason: finish && FINISH[finish] }
      : { index: 0, text, logprobs: lp, finish_reason: finish && FINISH[finish] };
  return {
    id: idOf(a),
    object: a.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: a.created,
    model,
    choices: [choice],
    ...(opts.usage ? { usage: null } : {}),
    system_fingerprint: null,
  };
}

/** The usage chunk `stream_options.include_usage` asks for: no choices. */
export function usageChunk(a: Answer, r: FinalResult): Json {
  return { id: idOf(a), object: a.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: a.created, model: r.model, choices: [], usage: usageOf(r) };
}

// ---- errors ----

/** TrineError code → HTTP status and OpenAI error type. The only place HTTP statuses for refusals are chosen. */
const HTTP: Record<string, readonly [number, string]> = {
  INVALID_ARGUMENT: [400, 'invalid_request_error'],
  BUDGET_EXCEEDED: [400, 'invalid_request_error'],
  UNSUPPORTED: [400, 'invalid_request_error'],
  NOT_FOUND: [404, 'not_found_error'],
  UNAUTHENTICATED: [401, 'authentication_error'],
  POLICY_DENIED: [403, 'permission_error'],
  RATE_LIMITED: [429, 'rate_limit_error'],
  OVERLOADED: [503, 'server_error'],
  UNAVAILABLE: [503, 'server_error'],
  BACKEND_UNAVAILABLE: [503, 'server_error'],
  DEVICE_LOST: [503, 'server_error'],
  DEADLINE_EXCEEDED: [504, 'server_error'],
  // The client is gone; nobody reads this status (nginx's "client closed request").
  CANCELLED: [499, 'invalid_request_error'],
};

export interface HttpError {
  readonly status: number;
  readonly body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

/** A refusal as OpenAI's error object. Anything not a TrineError is a bug: 500 without its message. */
export function httpError(e: unknown, rename: Record<string, string> = {}): HttpError {
  if (!TrineError.is(e)) return { status: 500, body: { error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' } } };
  const [status, type] = HTTP[e.code] ?? [500, 'server_error'];
  const param = e.field === undefined ? null : (rename[e.field] ?? e.field);
  const message = param !== null && e.field !== undefined && e.message.startsWith(`${e.field}:`) ? param + e.message.slice(e.field.length) : e.message;
  return { status, body: { error: { message, type, param: param === '' ? null : param, code: e.code.toLowerCase() } } };
}
