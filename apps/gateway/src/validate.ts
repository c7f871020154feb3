/**
 * Validation of every GenerateRequest field. Each failure is a TrineError('INVALID_ARGUMENT') naming the field;
 * nothing here allocates by an untrusted size (lengths are checked before anything is built from them).
 */
import { invalidArgument, type ChatMessage, type GenerateRequest as CoreRequest } from '@trine/core';
import type { GenerateRequest } from '@trine/proto';
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

export interface ValidatedRequest {
  readonly model: string;
  /** For the engine; `sampling.seed` is always set. */
  readonly request: CoreRequest;
  /** Greedy or with a client seed: the same request always gives the same output (cacheable). */
  readonly deterministic: boolean;
  readonly inputTokens: number;
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

  const deterministic = temperature === 0 || req.seed !== undefined;
  // A seed is drawn here when the client gave none, so a job re-run after a worker crash regenerates the same tokens.
  const seed = req.seed !== undefined ? Number(req.seed) : randomSeed();
  const sampling = { maxTokens, temperature, topP, topK, repetitionPenalty, seed, stop: [...req.stop], topLogprobs };
  const request: CoreRequest = messages ? { messages, sampling } : { prompt: req.prompt, sampling };
  return { model, request, deterministic };
}

/** Full validation, including token limits against the model's context. */
export async function validateGenerate(req: GenerateRequest, catalog: ModelCatalog, limits: RequestLimits = DEFAULT_LIMITS): Promise<ValidatedRequest> {
  const { model, request, deterministic } = validateShape(req, catalog, limits);
  const ids = request.messages
    ? await tokenizeChat(catalog, model.name, request.messages)
    : await catalog.tokenize(model.name, request.prompt, false);
  const field = request.messages ? 'messages' : 'prompt';
  if (ids.length >= model.contextLength)
    throw invalidArgument(field, `${ids.length} input tokens; the model's context is ${model.contextLength} (at most ${model.contextLength - 1} input tokens)`);
  if (ids.length + request.sampling.maxTokens > model.contextLength)
    throw invalidArgument('max_tokens', `${ids.length} input tokens + max_tokens ${request.sampling.maxTokens} exceed the model's context of ${model.contextLength}`);
  return { model: model.name, request, deterministic, inputTokens: ids.length };
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
