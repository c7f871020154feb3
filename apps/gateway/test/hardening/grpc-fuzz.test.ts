/**
 * gRPC input fuzzing: 10,000 fast-check cases against a real gateway on loopback (standalone mode, one engine).
 * Each case is a valid request with at most one defect whose field is known, or random/mutated wire bytes. Every
 * answer must be OK (valid, max_tokens 1), INVALID_ARGUMENT naming the defective field, or RESOURCE_EXHAUSTED past
 * the message limit — never INTERNAL or UNKNOWN — and the server must keep serving afterwards.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { GenerateRequest, ResponseFormat_Type, type InferenceClient, type ResponseFormat } from '@trine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type Running } from '../../src/index.js';
import { client, generate, healthCheck, metadata, req } from '../support/grpc.js';
import { bestBackend, report } from './harness.js';

const CASES = 10_000;
const CONCURRENCY = 48;
const MAX_MESSAGE = 16 * 1024;
const MAX_PROMPT = 4096;
const API_KEY = 'fuzz-key';

let sa: Running;
beforeAll(async () => {
  const backend = await bestBackend();
  sa = await startStandalone({
    TRINE_LISTEN: '127.0.0.1:0',
    TRINE_BACKEND: backend.name,
    TRINE_MAX_BATCH: '8',
    TRINE_API_KEYS: API_KEY,
    TRINE_MAX_MESSAGE_BYTES: String(MAX_MESSAGE),
    TRINE_MAX_PROMPT_BYTES: String(MAX_PROMPT),
    TRINE_MAX_QUEUE: '1024',
  });
}, 120_000);
afterAll(async () => {
  await sa?.stop(500);
});

/** What a case must get back: OK, INVALID_ARGUMENT naming `field`, RESOURCE_EXHAUSTED, or (raw bytes) any typed refusal. */
type Expect = { kind: 'ok' } | { kind: 'invalid'; field: string } | { kind: 'too-big' } | { kind: 'raw' };
interface Case {
  readonly expect: Expect;
  readonly bytes: Uint8Array;
}

const oneOf = <T>(...xs: T[]) => fc.constantFrom(...xs);
const format = (type: ResponseFormat_Type, f: Partial<ResponseFormat> = {}): ResponseFormat => ({ type, jsonSchema: '', regex: '', grammar: '', ...f });
const str = (max: number) => fc.string({ unit: 'grapheme', minLength: 1, maxLength: max });
const base = fc.record({
  prompt: str(24),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  topP: fc.double({ min: 0.05, max: 1, noNaN: true }),
  topK: fc.integer({ min: 0, max: 40 }),
  repetitionPenalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
  seed: fc.option(fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), { nil: undefined }),
  stop: fc.array(str(8), { maxLength: 3 }),
  topLogprobs: fc.integer({ min: 0, max: 5 }),
  minP: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  typicalP: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
  presencePenalty: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
  frequencyPenalty: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
  logitBias: fc.dictionary(fc.integer({ min: 0, max: 255 }).map(String), fc.double({ min: -100, max: 100, noNaN: true }), { maxKeys: 4 }),
  ignoreEos: fc.option(fc.boolean(), { nil: undefined }),
  promptLookup: fc.option(fc.integer({ min: 0, max: 16 }), { nil: undefined }),
  responseFormat: fc.option(oneOf(format(ResponseFormat_Type.TYPE_JSON_OBJECT), format(ResponseFormat_Type.TYPE_REGEX, { regex: 'a+' }), format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: '{"type":"boolean"}' })), { nil: undefined }),
});

const badFloat = (lo: number, hi: number) => fc.oneof(oneOf(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), fc.double({ max: lo, noNaN: true, maxExcluded: true }), fc.double({ min: hi, noNaN: true, minExcluded: true })).filter((x) => !(x >= lo && x <= hi)); // -0 is not below 0
const roles = oneOf('system', 'user', 'assistant');

/** One defect each; the field validation must name. */
const defects = fc.oneof(
  fc.constant(['prompt', { prompt: '' }] as [string, Partial<GenerateRequest>]),
  str(8).map((c) => ['prompt', { messages: [{ role: 'user', content: c }] }]),
  fc.integer({ min: MAX_PROMPT + 1, max: MAX_MESSAGE - 512 }).map((n) => ['prompt', { prompt: 'x'.repeat(n) }]),
  // About 800 tokens: past the embedded model's context, within the byte limit.
  fc.constant(['prompt', { prompt: 'word '.repeat(819) }] as [string, Partial<GenerateRequest>]),
  fc.integer({ max: 0 }).map((n) => ['max_tokens', { maxTokens: n }]),
  fc.integer({ min: 1_000_000 }).map((n) => ['max_tokens', { maxTokens: n }]),
  badFloat(0, 100).map((x) => ['temperature', { temperature: x }]),
  fc.oneof(badFloat(0, 1), fc.constant(0)).map((x) => ['top_p', { topP: x }]),
  fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 1_000_000 })).map((x) => ['top_k', { topK: x }]),
  fc.oneof(badFloat(0, 100), fc.constant(0)).map((x) => ['repetition_penalty', { repetitionPenalty: x }]),
  fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 21 })).map((x) => ['top_logprobs', { topLogprobs: x }]),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }).map((x) => ['seed', { seed: x }]),
  fc.array(str(4), { minLength: 9, maxLength: 30 }).map((s) => ['stop', { stop: s }]),
  fc.nat(2).map((i) => [`stop[${i}]`, { stop: [...Array.from({ length: i }, () => 'ok'), ''] }]),
  fc.integer({ min: 65, max: 400 }).map((n) => ['stop[0]', { stop: ['s'.repeat(n)] }]),
  fc.string({ minLength: 1, maxLength: 40 }).filter((m) => m !== '').map((m) => ['model', { model: `no-such-${m}` }]),
  fc.tuple(fc.nat(3), fc.string({ maxLength: 12 })).filter(([, r]) => !['system', 'user', 'assistant'].includes(r))
    .map(([i, role]) => [`messages[${i}].role`, { prompt: '', messages: [...Array.from({ length: i }, () => ({ role: 'user', content: 'hi' })), { role, content: 'x' }] }]),
  badFloat(0, 1).map((x) => ['min_p', { minP: x }]),
  fc.oneof(badFloat(0, 1), fc.constant(0)).map((x) => ['typical_p', { typicalP: x }]),
  badFloat(-2, 2).map((x) => ['presence_penalty', { presencePenalty: x }]),
  badFloat(-2, 2).map((x) => ['frequency_penalty', { frequencyPenalty: x }]),
  fc.tuple(fc.nat(255), badFloat(-100, 100)).map(([id, b]) => [`logit_bias[${id}]`, { logitBias: { [id]: b } }]),
  fc.integer({ min: 1 << 20, max: 2 ** 32 - 1 }).map((id) => [`logit_bias[${id}]`, { logitBias: { [id]: 1 } }]),
  // Zero biases encode small: the count, not the message size, must refuse them.
  fc.integer({ min: 1025, max: 2000 }).map((n) => ['logit_bias', { logitBias: Object.fromEntries(Array.from({ length: n }, (_, i) => [i, 0])) }]),
  fc.integer({ min: 17, max: 1 << 30 }).map((n) => ['prompt_lookup', { promptLookup: n }]),
  oneOf('minimum', 'maximum', 'not', 'oneOf', 'allOf', 'multipleOf', 'if').map((k) => [`response_format.json_schema.properties.x.${k}`, { responseFormat: format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: JSON.stringify({ type: 'object', properties: { x: { [k]: 1 } } }) }) }]),
  str(12).filter((t) => { try { JSON.parse(t); return false; } catch { return true; } }).map((t) => ['response_format.json_schema', { responseFormat: format(ResponseFormat_Type.TYPE_JSON_SCHEMA, { jsonSchema: t }) }]),
  oneOf('(', '[a-', 'a{3,1}', '\\').map((r) => ['response_format.regex', { responseFormat: format(ResponseFormat_Type.TYPE_REGEX, { regex: r }) }]),
  str(12).map((g) => ['response_format.grammar', { responseFormat: format(ResponseFormat_Type.TYPE_GRAMMAR, { grammar: `root ::= undefined-${g.length}` }) }]),
  fc.integer({ min: 6, max: 1000 }).map((t) => ['response_format.type', { responseFormat: format(t as ResponseFormat_Type) }]),
  fc.integer({ min: 257, max: 400 }).map((n) => ['messages', { prompt: '', messages: Array.from({ length: n }, () => ({ role: 'user', content: 'a' })) }]),
  fc.array(roles, { minLength: 1, maxLength: 4 }).map((rs) => ['messages', { prompt: '', messages: rs.map((role) => ({ role, content: '' })) }]),
) as fc.Arbitrary<[string, Partial<GenerateRequest>]>; // the .map tuples widen to arrays

const encode = (r: Partial<GenerateRequest>): Uint8Array => GenerateRequest.encode(req(r)).finish();

/** Invalid UTF-8 as the prompt on the wire: the encoded prompt field (tag 0x12, length 4, marker) rewritten. */
function withInvalidUtf8(r: Partial<GenerateRequest>, bad: Uint8Array): Uint8Array {
  const field = Buffer.from([0x12, 4, ...Buffer.from('QQQQ')]);
  const bytes = Buffer.from(encode({ ...r, prompt: 'QQQQ' }));
  const at = bytes.indexOf(field);
  return Buffer.concat([bytes.subarray(0, at), Buffer.from([0x12, bad.length, ...bad]), bytes.subarray(at + field.length)]);
}

const cases: fc.Arbitrary<Case> = fc.oneof(
  { weight: 2, arbitrary: base.map((b) => ({ expect: { kind: 'ok' } as Expect, bytes: encode({ ...b, maxTokens: 1 }) })) },
  { weight: 12, arbitrary: fc.tuple(base, defects).map(([b, [field, d]]) => ({ expect: { kind: 'invalid', field } as Expect, bytes: encode({ ...b, maxTokens: 1, ...d }) })) },
  {
    weight: 1,
    arbitrary: fc.tuple(base, fc.constantFrom(new Uint8Array([0xff]), new Uint8Array([0xc3, 0x28]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0x61, 0xf0, 0x9f]))).map(([b, bad]) => ({
      expect: { kind: 'invalid', field: 'prompt' } as Expect,
      bytes: withInvalidUtf8({ ...b, maxTokens: 1 }, bad),
    })),
  },
  { weight: 1, arbitrary: fc.integer({ min: MAX_MESSAGE + 1, max: 4 * MAX_MESSAGE }).map((n) => ({ expect: { kind: 'too-big' } as Expect, bytes: encode({ prompt: 'y'.repeat(n), maxTokens: 1 }) })) },
  // Wire-level garbage: random bytes, and valid encodings with bytes flipped, cut or appended.
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ expect: { kind: 'raw' } as Expect, bytes })) },
  {
    weight: 2,
    arbitrary: fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 })).map(([b, flips, cut, tail]) => {
      const bytes = Buffer.from(encode({ ...b, maxTokens: 1 }));
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      return { expect: { kind: 'raw' } as Expect, bytes: Buffer.concat([bytes.subarray(0, bytes.length - (cut % 4)), tail]) };
    }),
  },
);

function decodes(bytes: Uint8Array): boolean {
  try {
    GenerateRequest.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function call(c: InferenceClient, bytes: Uint8Array): Promise<ServiceError | null> {
  return new Promise((resolve) =>
    c.makeUnaryRequest('/trine.v1.Inference/Generate', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), metadata(API_KEY), { deadline: Date.now() + 30_000 }, (e) => resolve(e ?? null)),
  );
}

describe('hardening: gRPC input fuzzing', () => {
  it(`${CASES} fast-check cases: typed refusals naming the field, 0 INTERNAL/UNKNOWN, still serving`, async () => {
    const all = fc.sample(cases, { numRuns: CASES, seed: 20261128 });
    const counts: Record<string, number> = {};
    const problems: string[] = [];
    const t0 = performance.now();
    let next = 0;
    const run = async (): Promise<void> => {
      const conn = client(sa.port);
      while (next < all.length) {
        const k = next++;
        const c = all[k]!;
        const e = await call(conn, c.bytes);
        const name = e ? (status[e.code] ?? String(e.code)) : 'OK';
        counts[name] = (counts[name] ?? 0) + 1;
        const field = e?.metadata?.get('trine-field')[0];
        const x = c.expect;
        const fine =
          x.kind === 'ok' ? e === null
          : x.kind === 'invalid' ? e?.code === status.INVALID_ARGUMENT && field === x.field
          : x.kind === 'too-big' ? e?.code === status.RESOURCE_EXHAUSTED
          : // Bytes that are no protobuf message at all must name the field `request`; mutated bytes that still
            // decode may be a valid (or differently invalid) request: any typed answer.
            decodes(c.bytes) ? e === null || (e.code === status.INVALID_ARGUMENT && field !== undefined) : e?.code === status.INVALID_ARGUMENT && field === 'request';
        if (!fine && problems.length < 10) problems.push(`case ${k} expected ${JSON.stringify(x)} got ${name} field=${String(field)} (${e?.details}) bytes=${Buffer.from(c.bytes).toString('hex').slice(0, 120)}`);
      }
      conn.close();
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, run));
    const seconds = (performance.now() - t0) / 1000;
    // Afterwards: the server still answers a valid request and reports SERVING.
    const after = await generate(client(sa.port), req({ prompt: 'still there?', maxTokens: 1 }), metadata(API_KEY), 30_000).then(() => true, () => false);
    const health = await healthCheck(sa.port);
    const byKind = (k: Expect['kind']) => all.filter((c) => c.expect.kind === k).length;
    report('grpc-fuzz', {
      cases: all.length,
      valid: byKind('ok'),
      one_defect: byKind('invalid'),
      oversized: byKind('too-big'),
      wire_garbage: byKind('raw'),
      ok: counts.OK ?? 0,
      invalid_argument: counts.INVALID_ARGUMENT ?? 0,
      resource_exhausted: counts.RESOURCE_EXHAUSTED ?? 0,
      internal: counts.INTERNAL ?? 0,
      unknown: counts.UNKNOWN ?? 0,
      other: all.length - ['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNKNOWN'].reduce((n, k) => n + (counts[k] ?? 0), 0),
      mismatches: problems.length,
      seconds,
      served_after: after && health === 'SERVING' ? 'yes' : 'no',
    });
    expect(problems).toEqual([]);
    expect(counts.INTERNAL ?? 0).toBe(0);
    expect(counts.UNKNOWN ?? 0).toBe(0);
    expect(after).toBe(true);
    expect(health).toBe('SERVING');
  }, 180_000);
});
