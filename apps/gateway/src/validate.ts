/**
 * Validation of every GenerateRequest field. Each failure is a TrineError('INVALID_ARGUMENT') naming the field;
 * nothing here allocates by an untrusted size (lengths are checked before anything is built from them).
 */
import {
  compileGrammarCached,
  invalidArgument,
  MAX_PROMPT_LOOKUP,
  responseFormatGrammar,
  TrineError,
  validateSampling,
  type ChatMessage,
  type EngineRequest,
  type ResponseFormat,
  type SamplingParams,
} from '@trine/core';
import { ResponseFormat_Type, type GenerateRequest } from '@trine/proto';
import type { ModelCatalog } from './catalog.js';
import { wasInvalidUtf8 } from './utf8.js';

export interface RequestLimits {
  /** Prompt (or all message contents together) in UTF-8 bytes. */
  readonly maxPromptBytes: number;
  readonly maxMessages: number;
  readonly maxStopStrings: number;
  readonly maxStopBytes: number;
  /** Upper bound on max_tokens regardless of context. */
  readonly maxNewTokens: number;
  readonly maxTopLogprobs: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxPromptBytes: 256 * 1024,
  maxMessages: 256,
  maxStopStrings: 8,
  maxStopBytes: 64,
  maxNewTokens: 4096,
  maxTopLogprobs: 20,
};

/** Sizes of a response format's texts, checked before anything is parsed or compiled from them. */
export const FORMAT_LIMITS = { maxSchemaBytes: 64 * 1024, maxRegexBytes: 4 * 1024, maxGrammarBytes: 64 * 1024 } as const;

export interface ValidatedRequest {
  readonly model: string;
  /** For the engine; `sampling.seed` is always set. */
  readonly request: EngineRequest;
  /** Greedy or with a client seed: the same request always gives the same output (cacheable). */
  readonly deterministic: boolean;
  readonly inputTokens: number;
  /** The prompt's ids as the engine will feed them (chat template included), where the catalog renders them. */
  readonly promptIds?: readonly number[];
}

const ROLES = new Set(['system', 'user', 'assistant']);
const MAX_SEED = BigInt(Number.MAX_SAFE_INTEGER);
/** Not reproducible on purpose: a request without a seed gets a fresh one. */
const randomSeed = (): number => Math.floor(Math.random() * 2 ** 53);
const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function text(msg: object, field: string, value: string, maxBytes: number): void {
  if (wasInvalidUtf8(msg, value)) throw invalidArgument(field, 'is not valid UTF-8');
  if (utf8Bytes(value) > maxBytes) throw invalidArgument(field, `longer than ${maxBytes} bytes`);
}

function intIn(field: string, v: number | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw invalidArgument(field, `must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

function numIn(field: string, v: number | undefined, fallback: number, min: number, max: number, minExclusive = false): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v)) throw invalidArgument(field, `must be a finite number, got ${v}`);
  if (v < min || v > max || (minExclusive && v === min))
    throw invalidArgument(field, `must be in ${minExclusive ? '(' : '['}${min}, ${max}], got ${v}`);
  return v;
}

/** Structure and numbers: everything that needs no tokenizer. */
export function validateShape(req: GenerateRequest, catalog: ModelCatalog, limits: RequestLimits = DEFAULT_LIMITS) {
  text(req, 'model', req.model, 256);
  const model = catalog.resolve(req.model);

  const hasPrompt = req.prompt.length > 0;
  const hasMessages = req.messages.length > 0;
  if (hasPrompt && hasMessages) throw invalidArgument('prompt', 'give either prompt or messages, not both');
  if (!hasPrompt && !hasMessages) throw invalidArgument('prompt', 'must not be empty (or give messages)');
  let messages: ChatMessage[] | undefined;
  if (hasPrompt) text(req, 'prompt', req.prompt, limits.maxPromptBytes);
  else {
    if (req.messages.length > limits.maxMessages) throw invalidArgument('messages', `more than ${limits.maxMessages} messages`);
    let total = 0;
    messages = req.messages.map((m, i) => {
      text(req, `messages[${i}].role`, m.role, 32);
      if (!ROLES.has(m.role)) throw invalidArgument(`messages[${i}].role`, `must be system, user or assistant, got '${m.role}'`);
      text(req, `messages[${i}].content`, m.content, limits.maxPromptBytes);
      total += utf8Bytes(m.content);
      if (total > limits.maxPromptBytes) throw invalidArgument('messages', `contents longer than ${limits.maxPromptBytes} bytes together`);
      return { role: m.role, content: m.content };
    });
    if (messages.every((m) => m.content.length === 0)) throw invalidArgument('messages', 'all contents are empty');
  }

  const maxTokens = intIn('max_tokens', req.maxTokens, Math.min(128, model.contextLength), 1, Math.min(limits.maxNewTokens, model.contextLength));
  const temperature = numIn('temperature', req.temperature, 0, 0, 100);
  const topP = numIn('top_p', req.topP, 1, 0, 1, true);
  const topK = intIn('top_k', req.topK, 0, 0, model.vocabSize);
  const repetitionPenalty = numIn('repetition_penalty', req.repetitionPenalty, 1, 0, 100, true);
  const topLogprobs = intIn('top_logprobs', req.topLogprobs, 0, 0, limits.maxTopLogprobs);
  if (req.seed !== undefined && req.seed > MAX_SEED) throw invalidArgument('seed', `must be below 2^53, got ${req.seed}`);
  if (req.stop.length > limits.maxStopStrings) throw invalidArgument('stop', `more than ${limits.maxStopStrings} stop strings`);
  req.stop.forEach((s, i) => {
    text(req, `stop[${i}]`, s, limits.maxStopBytes);
    if (s.length === 0) throw invalidArgument(`stop[${i}]`, 'must not be empty');
  });

  const promptLookup = intIn('prompt_lookup', req.promptLookup, 0, 0, MAX_PROMPT_LOOKUP);

  const deterministic = temperature === 0 || req.seed !== undefined;
  // A seed is drawn here when the client gave none, so a job re-run after a worker crash regenerates the same tokens.
  const seed = req.seed !== undefined ? Number(req.seed) : randomSeed();
  const responseFormat = validateFormat(req);
  const logitBias = Object.keys(req.logitBias).length > 0 ? { ...req.logitBias } : undefined;
  // The newer controls travel only when set, so the job stays as small as before for requests without them.
  const sampling: SamplingParams = {
    maxTokens, temperature, topP, topK, repetitionPenalty, seed, stop: [...req.stop], topLogprobs,
    ...(req.minP !== undefined ? { minP: req.minP } : {}),
    ...(req.typicalP !== undefined ? { typicalP: req.typicalP } : {}),
    ...(req.presencePenalty !== undefined ? { presencePenalty: req.presencePenalty } : {}),
    ...(req.frequencyPenalty !== undefined ? { frequencyPenalty: req.frequencyPenalty } : {}),
    ...(logitBias ? { logitBias } : {}),
    ...(req.ignoreEos ? { ignoreEos: true } : {}),
    ...(responseFormat ? { responseFormat } : {}),
  };
  // The engine's own check (min_p, typical_p, penalties, logit_bias ids against the vocabulary and their count):
  // refused here with the same field names, before anything is queued.
  validateSampling(sampling, maxTokens, model.vocabSize);
  const input = messages ? { messages } : { prompt: req.prompt };
  const request: EngineRequest = { ...input, sampling, ...(req.promptLookup !== undefined ? { promptLookup } : {}) };
  return { model, request, deterministic };
}

/**
 * The response format as the engine takes it, compiled here once so that a bad schema, pattern or grammar is
 * refused (naming the keyword or the offset) before the request is queued. The engine compiles the same text again
 * on the worker (cached by text there); only the vocabulary check (can any token spell what comes next) waits for it.
 */
function validateFormat(req: GenerateRequest): ResponseFormat | undefined {
  const f = req.responseFormat;
  if (!f) return undefined;
  const only = (field: 'json_schema' | 'regex' | 'grammar', value: string, type: ResponseFormat_Type): void => {
    if (value.length > 0 && f.type !== type) throw invalidArgument(`response_format.${field}`, `is only for type ${ResponseFormat_Type[type]}`);
  };
  only('json_schema', f.jsonSchema, ResponseFormat_Type.TYPE_JSON_SCHEMA);
  only('regex', f.regex, ResponseFormat_Type.TYPE_REGEX);
  only('grammar', f.grammar, ResponseFormat_Type.TYPE_GRAMMAR);
  const required = (field: string, value: string, maxBytes: number): string => {
    text(req, `response_format.${field}`, value, maxBytes);
    if (value.length === 0) throw invalidArgument(`response_format.${field}`, `is required for type ${ResponseFormat_Type[f.type]}`);
    return value;
  };
  let format: ResponseFormat;
  let field: string;
  switch (f.type) {
    case ResponseFormat_Type.TYPE_UNSPECIFIED:
    case ResponseFormat_Type.TYPE_TEXT:
      return undefined;
    case ResponseFormat_Type.TYPE_JSON_OBJECT:
      return { type: 'json_object' };
    case ResponseFormat_Type.TYPE_JSON_SCHEMA:
      field = 'response_format.json_schema';
      format = { type: 'json_schema', schema: parseSchema(required('json_schema', f.jsonSchema, FORMAT_LIMITS.maxSchemaBytes), field) };
      break;
    case ResponseFormat_Type.TYPE_REGEX:
      field = 'response_format.regex';
      format = { type: 'regex', pattern: required('regex', f.regex, FORMAT_LIMITS.maxRegexBytes) };
      break;
    case ResponseFormat_Type.TYPE_GRAMMAR:
      field = 'response_format.grammar';
      format = { type: 'grammar', grammar: required('grammar', f.grammar, FORMAT_LIMITS.maxGrammarBytes) };
      break;
    default:
      throw invalidArgument('response_format.type', `unknown type ${String(f.type)}`);
  }
  compileFormat(responseFormatGrammar(format, { schema: 'response_format.json_schema', pattern: 'response_format.regex' })!, field);
  return format;
}

/** Nesting a schema document may have: the converter and the engine recurse over it (and over `const` values). */
const MAX_SCHEMA_NESTING = 128;

/** The deepest nesting of arrays and objects in JSON text (brackets inside strings do not count). */
function jsonNesting(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * A JSON Schema's text as a value; JSON.parse's failures are the client's. Nesting is bounded first: JSON.parse reads
 * any depth, but JSON.stringify (of a deep `const`) and the converter recurse, and a stack overflow is no answer.
 */
export function parseSchema(text: string, field: string): unknown {
  if (jsonNesting(text) > MAX_SCHEMA_NESTING) throw invalidArgument(field, `nests deeper than ${MAX_SCHEMA_NESTING} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw invalidArgument(field, `is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

/** Compiles GBNF text (cached by text); the compiler's errors name `grammar', here the field the text came from. */
export function compileFormat(grammar: string, field: string): void {
  try {
    compileGrammarCached(grammar);
  } catch (e) {
    if (TrineError.is(e, 'INVALID_ARGUMENT') && e.field === 'grammar') throw invalidArgument(field, e.message.replace(/^grammar: /, ''));
    throw e;
  }
}

/** Full validation, including token limits against the model's context. */
export async function validateGenerate(req: GenerateRequest, catalog: ModelCatalog, limits: RequestLimits = DEFAULT_LIMITS): Promise<ValidatedRequest> {
  const { model, request, deterministic } = validateShape(req, catalog, limits);
  // A catalog that renders prompts as the engine does gives the exact ids (and prefix routing hashes them).
  const rendered = catalog.promptIds ? await catalog.promptIds(model.name, request) : undefined;
  const ids =
    rendered ??
    (request.messages ? await tokenizeChat(catalog, model.name, request.messages) : await catalog.tokenize(model.name, request.prompt, false));
  const field = request.messages ? 'messages' : 'prompt';
  if (ids.length >= model.contextLength)
    throw invalidArgument(field, `${ids.length} input tokens; the model's context is ${model.contextLength} (at most ${model.contextLength - 1} input tokens)`);
  if (ids.length + request.sampling.maxTokens > model.contextLength)
    throw invalidArgument('max_tokens', `${ids.length} input tokens + max_tokens ${request.sampling.maxTokens} exceed the model's context of ${model.contextLength}`);
  return { model: model.name, request, deterministic, inputTokens: ids.length, ...(rendered ? { promptIds: rendered } : {}) };
}

/** Chat turns counted without their template tokens: a lower bound that rejects clearly oversized chats early.
 *  The engine checks the exact rendered length and fails the request with INVALID_ARGUMENT if it does not fit. */
async function tokenizeChat(catalog: ModelCatalog, model: string, messages: readonly ChatMessage[]): Promise<number[]> {
  const out: number[] = [];
  for (const m of messages) out.push(...(await catalog.tokenize(model, m.content, false)));
  return out;
}

export function validateTokenize(req: { model: string; text: string; chat: boolean }, limits: RequestLimits = DEFAULT_LIMITS) {
  text(req, 'model', req.model, 256);
  text(req, 'text', req.text, limits.maxPromptBytes);
  return { model: req.model, text: req.text, chat: req.chat };
}
