/**
 * OpenAI's request and response shapes, mapped onto the pipeline's GenerateRequest and back. Only the wire lives
 * here: what a field means (ranges, the model's context, the chat template) is the pipeline's validation, the
 * same as for gRPC. A field of the wrong JSON type, or a control the engine does not have, is refused here with
 * the parameter named; unknown fields are ignored, as OpenAI does.
 */
import { SAMPLING_LIMITS, TrineError, type FinishReason, type TokenLogprob } from '@trine/core';
import { ResponseFormat_Type, type ChatMessage, type GenerateRequest, type ResponseFormat } from '@trine/proto';
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
  /** Choices to generate (`n`): each its own request through the pipeline, choice i with seed + i. */
  readonly n: number;
  /** The pipeline's field names (and their prefixes) as this request spelled them (`response_format.json_schema` →
   *  `response_format.json_schema.schema`, or `guided_json` …), for `httpError`. */
  readonly rename: Readonly<Record<string, string>>;
}

/** Most choices one request may ask for (`n`); the server's queue bound may lower it (HttpFrontOptions.maxChoices). */
export const MAX_CHOICES = 16;

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
 * Controls OpenAI and vLLM define that Trine does not have. Their neutral value is accepted; any other is refused
 * rather than silently ignored, so a client never gets output it did not ask for.
 */
const UNSUPPORTED: readonly { key: string; neutral(v: unknown): boolean }[] = [
  { key: 'best_of', neutral: (v) => v === 1 },
  { key: 'echo', neutral: (v) => v === false },
  { key: 'suffix', neutral: (v) => v === '' },
  { key: 'tools', neutral: (v) => Array.isArray(v) && v.length === 0 },
  { key: 'functions', neutral: (v) => Array.isArray(v) && v.length === 0 },
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

function seed(body: Json, n: number): bigint | undefined {
  const v = int(body, 'seed');
  if (v === undefined) return undefined;
  // Choice i runs with seed + i, which must stay a seed too.
  const max = Number.MAX_SAFE_INTEGER - (n - 1);
  if (v < 0 || v > max) throw new BadParam('seed', `must be an integer in [0, ${max}]${n > 1 ? ` with n = ${n}` : ''}, got ${v}`);
  return BigInt(v);
}

function choices(body: Json, maxChoices: number): number {
  const n = int(body, 'n') ?? 1;
  if (n < 1 || n > maxChoices) throw new BadParam('n', `must be an integer in [1, ${maxChoices}], got ${n}`);
  return n;
}

/** OpenAI's logit_bias: `{"<token id>": bias}`. Counted before anything is copied; ids and biases the pipeline checks. */
function logitBias(body: Json): Record<number, number> {
  const v = body.logit_bias;
  if (!given(v)) return {};
  if (!isObject(v)) throw new BadParam('logit_bias', 'must be an object of token id → bias');
  const out: Record<number, number> = {};
  let count = 0;
  for (const key in v) {
    if (++count > SAMPLING_LIMITS.maxLogitBias) throw new BadParam('logit_bias', `has more than ${SAMPLING_LIMITS.maxLogitBias} entries`);
    const id = Number(key);
    if (!/^\d{1,10}$/.test(key) || id > 0xffff_ffff) throw new BadParam(`logit_bias[${key.slice(0, 32)}]`, 'is not a token id');
    const bias = v[key];
    if (typeof bias !== 'number' || !Number.isFinite(bias)) throw new BadParam(`logit_bias[${key}]`, 'must be a number');
    out[id] = bias;
  }
  return out;
}

const FORMAT_TYPES: Record<string, ResponseFormat_Type> = {
  text: ResponseFormat_Type.TYPE_TEXT,
  json_object: ResponseFormat_Type.TYPE_JSON_OBJECT,
  json_schema: ResponseFormat_Type.TYPE_JSON_SCHEMA,
};

/** A JSON Schema given as an object (or, as vLLM's guided_json allows, as JSON text), as the pipeline's JSON text. */
function schemaText(v: unknown, param: string): string {
  if (typeof v === 'string') return str({ v }, 'v', param)!;
  if (v !== true && !isObject(v)) throw new BadParam(param, 'must be a JSON Schema object');
  try {
    return JSON.stringify(v);
  } catch {
    // JSON.parse read the body iteratively; stringify recurses, and a schema nested past the stack is the client's.
    throw new BadParam(param, 'nests too deeply');
  }
}

type Format = { readonly format: ResponseFormat; readonly rename: Record<string, string> };
const format = (type: ResponseFormat_Type, fields: Partial<ResponseFormat>): ResponseFormat => ({ type, jsonSchema: '', regex: '', grammar: '', ...fields });

/**
 * Structured output: OpenAI's `response_format` (`text`, `json_object`, `json_schema: {name, schema, strict}`; and
 * llama-server's `{type: "json_object", schema}`), or one of the extensions vLLM (`guided_json`, `guided_regex`,
 * `guided_grammar`) and llama-server (`json_schema`, `grammar`) accept. At most one of them constrains a request.
 */
function responseFormat(body: Json): Format | undefined {
  const found: Format[] = [];
  const rf = body.response_format;
  if (given(rf)) {
    if (!isObject(rf)) throw new BadParam('response_format', 'must be an object');
    const type = typeof rf.type === 'string' && Object.hasOwn(FORMAT_TYPES, rf.type) ? FORMAT_TYPES[rf.type] : undefined;
    if (type === undefined) throw new BadParam('response_format.type', `must be one of ${Object.keys(FORMAT_TYPES).join(', ')}`);
    if (type === ResponseFormat_Type.TYPE_JSON_SCHEMA) {
      const js = rf.json_schema;
      if (!isObject(js)) throw new BadParam('response_format.json_schema', 'must be an object {name, schema, strict}');
      str(js, 'name', 'response_format.json_schema.name');
      if (given(js.strict) && typeof js.strict !== 'boolean') throw new BadParam('response_format.json_schema.strict', 'must be true or false');
      // OpenAI's schema is optional (any JSON then); Trine always enforces it, strict or not.
      const schema = given(js.schema) ? schemaText(js.schema, 'response_format.json_schema.schema') : 'true';
      found.push({ format: format(type, { jsonSchema: schema }), rename: { 'response_format.json_schema': 'response_format.json_schema.schema' } });
    } else if (type === ResponseFormat_Type.TYPE_JSON_OBJECT && given(rf.schema)) {
      found.push({ format: format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: schemaText(rf.schema, 'response_format.schema') }), rename: { 'response_format.json_schema': 'response_format.schema' } });
    } else if (type !== ResponseFormat_Type.TYPE_TEXT) found.push({ format: format(type, {}), rename: {} });
  }
  if (given(body.guided_json)) found.push({ format: format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: schemaText(body.guided_json, 'guided_json') }), rename: { 'response_format.json_schema': 'guided_json', response_format: 'guided_json' } });
  if (given(body.json_schema)) found.push({ format: format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: schemaText(body.json_schema, 'json_schema') }), rename: { 'response_format.json_schema': 'json_schema', response_format: 'json_schema' } });
  for (const [key, type, field] of [
    ['guided_regex', ResponseFormat_Type.TYPE_REGEX, 'regex'],
    ['guided_grammar', ResponseFormat_Type.TYPE_GRAMMAR, 'grammar'],
    ['grammar', ResponseFormat_Type.TYPE_GRAMMAR, 'grammar'],
  ] as const) {
    const v = str(body, key);
    if (v !== undefined) found.push({ format: format(type, { [field]: v }), rename: { [`response_format.${field}`]: key, response_format: key } });
  }
  if (found.length > 1) throw new BadParam('response_format', 'give at most one of response_format, guided_json, guided_regex, guided_grammar, json_schema, grammar');
  return found[0];
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
export function fromOpenAi(body: unknown, endpoint: Endpoint, maxChoices = MAX_CHOICES): HttpGenerate {
  if (!isObject(body)) throw new BadParam('', 'the request body must be a JSON object');
  refuseUnsupported(body);
  const n = choices(body, maxChoices);
  const rf = responseFormat(body);
  const promptLookup = int(body, 'prompt_lookup');
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
    seed: seed(body, n),
    stop: stops(body),
    // The engine reports a token's own log-probability with its alternatives: ask for at least one.
    topLogprobs: lp === undefined ? undefined : Math.max(lp, 1),
    minP: num(body, 'min_p'),
    typicalP: num(body, 'typical_p'),
    presencePenalty: num(body, 'presence_penalty'),
    frequencyPenalty: num(body, 'frequency_penalty'),
    logitBias: logitBias(body),
    ignoreEos: bool(body, 'ignore_eos'),
    responseFormat: rf?.format,
    ...(promptLookup !== undefined ? { promptLookup } : {}),
  };
  return {
    request,
    stream: bool(body, 'stream') ?? false,
    includeUsage: (isObject(streamOptions) && bool(streamOptions, 'include_usage')) || false,
    logprobs: lp,
    maxTokensParam: maxCompletion !== undefined ? 'max_completion_tokens' : 'max_tokens',
    n,
    rename: { ...(maxCompletion !== undefined ? { max_tokens: 'max_completion_tokens' } : {}), ...rf?.rename },
  };
}

// ---- answers ----

const FINISH: Record<FinishReason, string> = { stop: 'stop', length: 'length', cancelled: 'stop' };

/** Usage of an answer of n choices: the prompt counted once (every choice reads the same one), completions summed. */
export const usageOf = (rs: readonly FinalResult[]) => {
  const prompt = rs[0]?.usage.inputTokens ?? 0;
  const completion = rs.reduce((sum, r) => sum + r.usage.outputTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
};

const lossy = new TextDecoder('utf-8');

/** An alternative's text from its bytes (the worker adds them); a piece that is part of a character shows U+FFFD. */
const altText = (x: TokenLogprob): string => (x.bytes ? lossy.decode(Uint8Array.from(x.bytes)) : '');

/**
 * Log-probabilities as OpenAI renders them: each alternative with its token's text and bytes (and Trine's
 * `token_id`). The sampled token's `token` is the text it completed (never half a character).
 */
function chatLogprobs(tokens: readonly CachedToken[], k: number) {
  return {
    content: tokens.map((t) => ({
      token: t.text,
      logprob: t.logprob ?? 0,
      bytes: [...Buffer.from(t.text, 'utf8')],
      top_logprobs: (t.top ?? []).slice(0, k).map((x) => ({ token: altText(x), token_id: x.tokenId, logprob: x.logprob, bytes: x.bytes ? [...x.bytes] : null })),
    })),
  };
}

/** The legacy form: alternatives keyed by their text (the likelier one kept where two pieces read the same). */
function completionLogprobs(tokens: readonly CachedToken[], k: number, offset: number) {
  let at = offset;
  const alternatives = (t: CachedToken): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const x of (t.top ?? []).slice(0, k)) {
      const key = x.bytes ? altText(x) : String(x.tokenId);
      if (!(key in out)) out[key] = x.logprob;
    }
    return out;
  };
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob ?? 0),
    top_logprobs: tokens.map(alternatives),
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

/** One finished choice of a whole answer. */
export interface Choice {
  readonly tokens: readonly CachedToken[];
  readonly result: FinalResult;
}

/** The whole answer as one JSON body: a choice per generated sequence, in index order. */
export function completionBody(a: Answer, choices: readonly Choice[]): Json {
  const body = choices.map(({ tokens, result: r }, index) => {
    const text = tokens.map((t) => t.text).join('') + r.tail;
    const lp = a.logprobs === undefined ? null : a.endpoint === 'chat' ? chatLogprobs(tokens, a.logprobs) : completionLogprobs(tokens, a.logprobs, 0);
    return a.endpoint === 'chat'
      ? { index, message: { role: 'assistant', content: text, refusal: null }, logprobs: lp, finish_reason: FINISH[r.finish] }
      : { index, text, logprobs: lp, finish_reason: FINISH[r.finish] };
  });
  return {
    id: idOf(a),
    object: a.endpoint === 'chat' ? 'chat.completion' : 'text_completion',
    created: a.created,
    model: choices[0]!.result.model,
    choices: body,
    usage: usageOf(choices.map((c) => c.result)),
    system_fingerprint: null,
  };
}

/** One streamed chunk of choice `index`: `text` (and its tokens) as a delta, `finish` on the choice's last chunk. */
export function chunkBody(a: Answer, model: string, index: number, text: string, tokens: readonly CachedToken[], finish: FinishReason | null, offset: number, opts: { role?: boolean; usage?: boolean } = {}): Json {
  const lp = a.logprobs === undefined || tokens.length === 0 ? null : a.endpoint === 'chat' ? chatLogprobs(tokens, a.logprobs) : completionLogprobs(tokens, a.logprobs, offset);
  const choice =
    a.endpoint === 'chat'
      ? { index, delta: opts.role ? { role: 'assistant', content: text } : text ? { content: text } : {}, logprobs: lp, finish_reason: finish && FINISH[finish] }
      : { index, text, logprobs: lp, finish_reason: finish && FINISH[finish] };
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

/** The usage chunk `stream_options.include_usage` asks for, once every choice is done: no choices. */
export function usageChunk(a: Answer, rs: readonly FinalResult[]): Json {
  return { id: idOf(a), object: a.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: a.created, model: rs[0]!.model, choices: [], usage: usageOf(rs) };
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

/** `field` with the longest key of `rename` that is it or a prefix of it (`a.b` covers `a.b.c` and `a.b[0]`) replaced. */
function renamed(field: string, rename: Readonly<Record<string, string>>): string {
  let best = '';
  for (const key of Object.keys(rename))
    if (key.length > best.length && (field === key || field.startsWith(`${key}.`) || field.startsWith(`${key}[`))) best = key;
  return best ? rename[best]! + field.slice(best.length) : field;
}

/**
 * A refusal as OpenAI's error object. Anything not a TrineError is a bug: 500 without its message. `rename` maps the
 * pipeline's field names (and, as prefixes, the paths under them) onto the parameters as the client sent them.
 */
export function httpError(e: unknown, rename: Readonly<Record<string, string>> = {}): HttpError {
  if (!TrineError.is(e)) return { status: 500, body: { error: { message: 'internal error', type: 'server_error', param: null, code: 'internal_error' } } };
  const [status, type] = HTTP[e.code] ?? [500, 'server_error'];
  const param = e.field === undefined ? null : renamed(e.field, rename);
  const message = param !== null && e.field !== undefined && e.message.startsWith(`${e.field}:`) ? param + e.message.slice(e.field.length) : e.message;
  return { status, body: { error: { message, type, param: param === '' ? null : param, code: e.code.toLowerCase() } } };
}
