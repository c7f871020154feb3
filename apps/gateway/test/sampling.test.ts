/**
 * The sampling controls and structured output of GenerateRequest (min_p, typical_p, presence / frequency penalty,
 * logit_bias, ignore_eos, response_format, prompt_lookup) against a running standalone gateway over gRPC: each value
 * reaches the engine (it changes the tokens the way it must), a bad one is INVALID_ARGUMENT naming the field before
 * anything is queued, and the response cache keeps requests that differ in any of them apart.
 */
import { status } from '@grpc/grpc-js';
import { createTokenizer, ensureDefaultModel, openModel } from '@trine/core';
import { FinishReason, GenerateRequest, ResponseFormat_Type, type InferenceClient } from '@trine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type Running } from '../src/index.js';
import { client, expectStatus, generate, req } from './support/grpc.js';

let open: Running; // no response cache: every call generates
let cached: Running; // the response cache on
let c: InferenceClient;
let eosId: number;

beforeAll(async () => {
  const base = { TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_MAX_BATCH: '4', TRINE_HTTP_LISTEN: 'off' };
  [open, cached] = await Promise.all([startStandalone({ ...base, TRINE_CACHE_TTL_MS: '0' }), startStandalone(base)]);
  c = client(open.port);
  // The served model is the default one (no TRINE_MODEL): its end-of-generation id, from its own tokenizer.
  const source = await openModel(await ensureDefaultModel());
  eosId = createTokenizer(source.tokenizer).eosIds[0]!;
  await source.close();
}, 120_000);
afterAll(async () => {
  c?.close();
  await Promise.all([open?.stop(500), cached?.stop(500)]);
});

const prompt = 'The old man and the sea';
/** The id of a text that is one token (after the BOS the tokenizer may add). */
const tokenIdOf = (text: string): Promise<number> =>
  new Promise((resolve, reject) => c.tokenize({ model: '', text, chat: false }, (e, r) => (e ? reject(e) : resolve(r!.tokenIds.at(-1)!))));
const greedy = (over: Partial<GenerateRequest> = {}) => generate(c, req({ prompt, maxTokens: 12, ...over }));

describe('the controls reach the engine', () => {
  it('logit_bias: +100 forces a token, -100 bans the one greedy decoding picks; grpcurl JSON spells it as an object', async () => {
    const plain = await greedy();
    const forced = plain.tokenIds[3]!;
    const all = await greedy({ logitBias: { [forced]: 100 } });
    expect(all.tokenIds).toEqual(new Array(12).fill(forced));
    const banned = await greedy({ logitBias: { [plain.tokenIds[0]!]: -100 } });
    expect(banned.tokenIds[0]).not.toBe(plain.tokenIds[0]);
    expect(banned.tokenIds).not.toContain(plain.tokenIds[0]);
    // The proto3 JSON mapping (grpcurl -d) of map<uint32, double>: string keys.
    expect(GenerateRequest.fromJSON({ prompt, logit_bias: { [String(forced)]: 100 } }).logitBias).toEqual({ [forced]: 100 });
  });

  it('ignore_eos runs to max_tokens where logit_bias forces end-of-generation', async () => {
    const stopped = await greedy({ logitBias: { [eosId]: 100 } });
    expect(stopped.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expect(stopped.tokenIds).toEqual([]);
    const ran = await greedy({ logitBias: { [eosId]: 100 }, ignoreEos: true });
    expect(ran.finishReason).toBe(FinishReason.FINISH_REASON_LENGTH);
    expect(ran.tokenIds).toHaveLength(12);
    expect(ran.tokenIds).not.toContain(eosId);
  });

  it('min_p 1 keeps only the most likely token, so sampling at any seed is greedy; a penalty changes greedy text', async () => {
    const plain = await greedy({ maxTokens: 24 });
    const minP = await greedy({ maxTokens: 24, temperature: 1.5, seed: 5n, minP: 1 });
    expect(minP.tokenIds).toEqual(plain.tokenIds);
    const sampled = await greedy({ maxTokens: 24, temperature: 1.5, seed: 5n });
    expect(sampled.tokenIds).not.toEqual(plain.tokenIds);
    // Greedy decoding of this model loops; a frequency penalty must break the loop somewhere in 24 tokens.
    const penalized = await greedy({ maxTokens: 24, frequencyPenalty: 2 });
    expect(penalized.tokenIds).not.toEqual(plain.tokenIds);
    const presence = await greedy({ maxTokens: 24, presencePenalty: 2 });
    expect(presence.tokenIds).not.toEqual(plain.tokenIds);
    // typical_p 1 is off: the same tokens as without it.
    expect((await greedy({ maxTokens: 24, temperature: 1.5, seed: 5n, typicalP: 1 })).tokenIds).toEqual(sampled.tokenIds);
  });

  it('prompt_lookup drafts tokens without changing greedy text', async () => {
    const repetitive = 'one two three four one two three four one two three four one two';
    const without = await generate(c, req({ prompt: repetitive, maxTokens: 24, promptLookup: 0 }));
    const withLookup = await generate(c, req({ prompt: repetitive, maxTokens: 24, promptLookup: 8 }));
    expect(withLookup.tokenIds).toEqual(without.tokenIds);
    expect(withLookup.text).toBe(without.text);
  });
});

describe('response_format', () => {
  const schema = {
    type: 'object',
    properties: { ok: { type: 'boolean' }, color: { enum: ['red', 'green', 'blue'] }, n: { type: 'integer' } },
    required: ['ok', 'color', 'n'],
    additionalProperties: false,
  };

  it('json_schema: the answer parses and has exactly the schema’s properties, of their types', async () => {
    for (const seed of [1n, 2n]) {
      const r = await generate(c, req({ prompt: 'Answer in JSON:', maxTokens: 120, temperature: 0.8, seed, responseFormat: { type: ResponseFormat_Type.TYPE_JSON_SCHEMA, jsonSchema: JSON.stringify(schema), regex: '', grammar: '' } }));
      expect(r.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
      const v = JSON.parse(r.text) as Record<string, unknown>;
      expect(Object.keys(v)).toEqual(['ok', 'color', 'n']);
      expect(typeof v.ok).toBe('boolean');
      expect(['red', 'green', 'blue']).toContain(v.color);
      expect(Number.isInteger(v.n)).toBe(true);
    }
  });

  it('json_object, regex and grammar constrain the text', async () => {
    const format = (type: ResponseFormat_Type, f: { regex?: string; grammar?: string } = {}) => ({ type, jsonSchema: '', regex: f.regex ?? '', grammar: f.grammar ?? '' });
    // This model writes prose into the first key's string until max_tokens (a JSON prefix, not JSON); with the braces
    // favoured the only object the grammar then allows is the empty one.
    const json = format(ResponseFormat_Type.TYPE_JSON_OBJECT);
    const prefix = await generate(c, req({ prompt: 'JSON:', maxTokens: 16, temperature: 0.7, seed: 3n, responseFormat: json }));
    expect(prefix.text).toMatch(/^\{\s*"/);
    const [lbrace, rbrace] = [await tokenIdOf('{'), await tokenIdOf('}')];
    const obj = await generate(c, req({ prompt: 'JSON:', maxTokens: 16, responseFormat: json, logitBias: { [lbrace]: 100, [rbrace]: 100 } }));
    expect(obj.finishReason).toBe(FinishReason.FINISH_REASON_STOP);
    expect(JSON.parse(obj.text)).toEqual({});
    const re = await generate(c, req({ prompt: 'Code:', maxTokens: 30, temperature: 0.7, seed: 3n, responseFormat: format(ResponseFormat_Type.TYPE_REGEX, { regex: '[A-Z]{3}-[0-9]{2}' }) }));
    expect(re.text).toMatch(/^[A-Z]{3}-[0-9]{2}$/);
    const g = await generate(c, req({ prompt: 'List:', maxTokens: 30, responseFormat: format(ResponseFormat_Type.TYPE_GRAMMAR, { grammar: 'root ::= item ("," item){2}\nitem ::= [a-z] [0-9]\n' }) }));
    expect(g.text).toMatch(/^[a-z][0-9](,[a-z][0-9]){2}$/);
  });
});

describe('bad values are INVALID_ARGUMENT naming the field, before anything is queued', () => {
  const refused = async (over: Partial<GenerateRequest>): Promise<string> => {
    const m = open.server.metrics;
    const [validation, failed] = [m.rejections.validation, m.failed];
    const e = await expectStatus(generate(c, req({ prompt, maxTokens: 4, ...over })));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    // Refused by the gateway's validation, not by an engine after queueing (that would count as failed).
    expect([m.rejections.validation, m.failed]).toEqual([validation + 1, failed]);
    return e.details;
  };
  const schemaFormat = (s: unknown) => ({ responseFormat: { type: ResponseFormat_Type.TYPE_JSON_SCHEMA, jsonSchema: typeof s === 'string' ? s : JSON.stringify(s), regex: '', grammar: '' } });

  it('sampling values', async () => {
    expect(await refused({ minP: 1.5 })).toMatch(/^min_p:/);
    expect(await refused({ typicalP: 0 })).toMatch(/^typical_p:/);
    expect(await refused({ presencePenalty: 2.5 })).toMatch(/^presence_penalty:/);
    expect(await refused({ frequencyPenalty: Number.NaN })).toMatch(/^frequency_penalty:/);
    expect(await refused({ logitBias: { 5: 101 } })).toMatch(/^logit_bias\[5\]:/);
    expect(await refused({ logitBias: { 10_000_000: 1 } })).toMatch(/^logit_bias\[10000000\]:.*not a token id/);
    expect(await refused({ logitBias: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [i, 1])) })).toMatch(/^logit_bias:.*1024/);
    expect(await refused({ promptLookup: 17 })).toMatch(/^prompt_lookup:/);
  });

  it('response formats: an unsupported schema keyword is named, never ignored', async () => {
    const withMinimum = { type: 'object', properties: { age: { type: 'integer', minimum: 0 } } };
    expect(await refused(schemaFormat(withMinimum))).toMatch(/^response_format\.json_schema\.properties\.age\.minimum: .*'minimum' is not supported/);
    expect(await refused(schemaFormat('{"type": "object",'))).toMatch(/^response_format\.json_schema: is not valid JSON/);
    expect(await refused(schemaFormat(''))).toMatch(/^response_format\.json_schema: is required/);
    expect(await refused({ responseFormat: { type: ResponseFormat_Type.TYPE_REGEX, jsonSchema: '{}', regex: 'a', grammar: '' } })).toMatch(/^response_format\.json_schema: is only for type TYPE_JSON_SCHEMA/);
    expect(await refused({ responseFormat: { type: ResponseFormat_Type.TYPE_REGEX, jsonSchema: '', regex: '[a-', grammar: '' } })).toMatch(/^response_format\.regex:/);
    expect(await refused({ responseFormat: { type: ResponseFormat_Type.TYPE_GRAMMAR, jsonSchema: '', regex: '', grammar: 'root ::= missing' } })).toMatch(/^response_format\.grammar:/);
    expect(await refused({ responseFormat: { type: ResponseFormat_Type.TYPE_GRAMMAR, jsonSchema: '', regex: '', grammar: 'x'.repeat(65 * 1024) } })).toMatch(/^response_format\.grammar: longer than 65536 bytes/);
    expect(await refused({ responseFormat: { type: 42 as ResponseFormat_Type, jsonSchema: '', regex: '', grammar: '' } })).toMatch(/^response_format\.type:/);
    // A client's own names in the path (not ASCII: percent-encoded in the trine-field metadata), and a JSON error
    // message cut inside a character: typed refusals, not a crash of the status encoding.
    expect(await refused(schemaFormat({ type: 'object', properties: { 'température 😀': { type: 'number', maximum: 1 } } }))).toMatch(/^response_format\.json_schema\.properties\.température 😀\.maximum:/);
    expect(await refused(schemaFormat(`{"${'😀'.repeat(150)}`))).toMatch(/^response_format\.json_schema: is not valid JSON/);
    // A deep `const` (the converter stringifies it: recursion past the stack) is refused by its nesting.
    expect(await refused(schemaFormat(`{"const": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`))).toMatch(/^response_format\.json_schema: nests deeper than 128 levels/);
    expect((await generate(c, req({ prompt, maxTokens: 30, ...schemaFormat({ const: [[['[{"}']]] }) }))).text).toBe('[[["[{\\"}"]]]');
  });
});

describe('the response cache', () => {
  it('keeps requests that differ only in a new control apart, and shares one that means the same', async () => {
    const cc = client(cached.port);
    try {
      const base = { prompt, maxTokens: 8, temperature: 0.9, seed: 11n };
      const first = await generate(cc, req(base));
      expect((await generate(cc, req(base))).cached).toBe(true);
      const forced = first.tokenIds[0] === 7 ? 8 : 7;
      const biased = await generate(cc, req({ ...base, logitBias: { [forced]: 100 } }));
      expect(biased.cached).toBe(false);
      expect(biased.tokenIds).toEqual(new Array(8).fill(forced));
      expect((await generate(cc, req({ ...base, logitBias: { [forced]: 100 } }))).cached).toBe(true);
      for (const over of [{ minP: 0.1 }, { typicalP: 0.9 }, { presencePenalty: 1 }, { frequencyPenalty: 1 }, { ignoreEos: true }, { promptLookup: 4 }])
        expect((await generate(cc, req({ ...base, ...over }))).cached, JSON.stringify(over)).toBe(false);
    } finally {
      cc.close();
    }
  });
});
