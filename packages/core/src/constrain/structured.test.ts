import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { DEFAULT_SAMPLING, type GenerateEvent, type ResponseFormat, type SamplingParams } from '../generate/types.js';
import { referenceBackendFactory } from '../reference/index.js';
import { ensureDefaultModel } from '../default-model/cache.js';
import { Engine, type EngineRequest } from '../engine/engine.js';

/** Schemas of the kinds services send (OpenAI structured outputs, llama.cpp's converter tests). */
const SCHEMAS: Record<string, unknown> = {
  person: { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false },
  enum: { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] }, n: { enum: [1, 2.5, null, true] } }, required: ['color', 'n'] },
  const: { type: 'object', properties: { version: { const: 'v1' }, ok: { type: 'boolean' } }, required: ['version', 'ok'] },
  numbers: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 4 },
  nested: {
    type: 'object',
    properties: { user: { type: 'object', properties: { id: { type: 'integer' }, tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 } }, required: ['id', 'tags'] } },
    required: ['user'],
  },
  anyOf: { type: 'object', properties: { value: { anyOf: [{ type: 'string', maxLength: 8 }, { type: 'null' }, { type: 'integer' }] } }, required: ['value'] },
  optional: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'boolean' }, c: { type: 'null' } }, additionalProperties: false },
  typeList: { type: 'object', properties: { x: { type: ['string', 'integer', 'null'], maxLength: 5 } }, required: ['x'] },
  pattern: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' } }, required: ['code'] },
  formats: { type: 'object', properties: { day: { type: 'string', format: 'date' }, id: { type: 'string', format: 'uuid' } }, required: ['day', 'id'] },
  lengths: { type: 'object', properties: { s: { type: 'string', minLength: 3, maxLength: 5 } }, required: ['s'] },
  arrayOfObjects: { type: 'array', items: { type: 'object', properties: { k: { type: 'string', maxLength: 4 }, v: { type: 'integer' } }, required: ['k', 'v'] }, minItems: 1, maxItems: 3 },
  recursive: {
    $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['v'] } },
    type: 'object',
    properties: { root: { $ref: '#/$defs/node' } },
    required: ['root'],
  },
  map: { type: 'object', additionalProperties: { type: 'integer' } },
  // Not here: an unbounded string ({type: 'string'}) under a model that knows nothing may run to max_tokens (as in
  // llama.cpp); the grammar's other unbounded parts (numbers, whitespace) have fixed maxima as in llama.cpp's.
};

type Done = Extract<GenerateEvent, { type: 'done' }>;

async function run(engine: Engine, responseFormat: ResponseFormat, over: Partial<SamplingParams> = {}): Promise<{ text: string; done: Done }> {
  let text = '';
  let done: Done | undefined;
  for await (const ev of engine.generate({ prompt: 'Answer in JSON:', sampling: { ...DEFAULT_SAMPLING, maxTokens: 300, responseFormat, ...over } })) {
    text += ev.text;
    if (ev.type === 'done') done = ev;
  }
  return { text, done: done! };
}

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);

/** Every schema, generated together (continuous batching: each sequence has its own grammar state). */
async function checkCorpus(engine: Engine, over: Partial<SamplingParams>, skip: readonly string[] = []): Promise<void> {
  const names = Object.keys(SCHEMAS).filter((n) => !skip.includes(n));
  const results = await Promise.all(names.map((name) => run(engine, { type: 'json_schema', schema: SCHEMAS[name] }, over)));
  results.forEach(({ text, done }, i) => {
    const name = names[i]!;
    expect(done.finishReason, `${name}: ${text}`).toBe('stop');
    let value: unknown;
    expect(() => (value = JSON.parse(text)), `${name}: ${text}`).not.toThrow();
    const validate = ajv.compile(SCHEMAS[name] as object);
    expect(validate(value), `${name}: ${text} ${JSON.stringify(validate.errors)}`).toBe(true);
  });
}

let dir: string;
let random: Engine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trine-constrain-'));
  random = await Engine.load({ model: await ensureDefaultModel({ cacheDir: dir, random: true }), backend: referenceBackendFactory, maxBatch: 8, context: 512, maxQueue: 32, prefixCacheTokens: 0 });
});

afterAll(async () => {
  await random?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('structured output on the random-weight model (reference backend)', () => {
  it('every schema of the corpus gives JSON that validates, greedy', async () => {
    await checkCorpus(random, {});
  }, 120_000);

  it('every schema of the corpus gives JSON that validates, sampled with a seed', async () => {
    await checkCorpus(random, { temperature: 1, topK: 40, seed: 7 });
  }, 120_000);

  it('JSON mode gives a JSON object; a regex and a GBNF grammar give matching text', async () => {
    const obj = await run(random, { type: 'json_object' }, { maxTokens: 400, temperature: 0.7, seed: 3 });
    expect(obj.done.finishReason, obj.text).toBe('stop');
    const parsed: unknown = JSON.parse(obj.text);
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);

    const re = await run(random, { type: 'regex', pattern: '(yes|no), [0-9]{2} (cats|dogs)' });
    expect(re.text).toMatch(/^(yes|no), [0-9]{2} (cats|dogs)$/);
    expect(re.done.finishReason).toBe('stop');

    const g = await run(random, { type: 'grammar', grammar: 'root ::= item ("," item){2}\nitem ::= [a-z] [0-9]\n' });
    expect(g.text).toMatch(/^[a-z][0-9](,[a-z][0-9]){2}$/);
  }, 60_000);

  it('a grammar that cannot be completed within max_tokens ends with length', async () => {
    const r = await run(random, { type: 'grammar', grammar: 'root ::= "a"{200}' }, { maxTokens: 5 });
    expect(r.done.finishReason).toBe('length');
    expect(r.done.usage.outputTokens).toBe(5);
    expect(r.text).toMatch(/^a+$/);
  }, 30_000);

  it('an unsupported keyword is INVALID_ARGUMENT naming it, before anything is generated', async () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', multipleOf: 3 } } };
    const err = await run(random, { type: 'json_schema', schema }).catch((e: unknown) => e);
    expect(TrineError.is(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as TrineError).field).toBe('response_format.schema.properties.n.multipleOf');
    expect((err as TrineError).message).toContain("'multipleOf'");
    const bad = await run(random, { type: 'grammar', grammar: 'root ::= x' }).catch((e: unknown) => e);
    expect(TrineError.is(bad, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('structured output on the trained default model', () => {
  it('every schema of the corpus gives JSON that validates', async () => {
    const trained = await Engine.load({ model: await ensureDefaultModel(), backend: referenceBackendFactory, maxBatch: 8, context: 256, prefixCacheTokens: 0 });
    try {
      // Greedy decoding of a small model repeats itself: under the recursive schema it nests until max_tokens, and
      // a map's keys are unbounded strings it never closes.
      await checkCorpus(trained, { maxTokens: 200 }, ['recursive', 'map']);
    } finally {
      await trained.close();
    }
  }, 120_000);
});

describe('sampling controls through the engine', () => {
  it('ignore_eos runs to max_tokens even where logit_bias forces end-of-generation', async () => {
    const eos = random.tokenizer.eosIds[0]!;
    const forced = { ...DEFAULT_SAMPLING, maxTokens: 12, logitBias: { [eos]: 100 } };
    const ends = await run(random, { type: 'text' }, forced);
    expect(ends.done.finishReason).toBe('stop');
    expect(ends.done.usage.outputTokens).toBe(0);
    const ignored = await run(random, { type: 'text' }, { ...forced, ignoreEos: true });
    expect(ignored.done.finishReason).toBe('length');
    expect(ignored.done.usage.outputTokens).toBe(12);
  });
});

describe('beside prompt-lookup decoding', () => {
  it('a constrained stream batched with a drafting greedy stream still validates', async () => {
    const schema = SCHEMAS.arrayOfObjects as object;
    const drafting = (async () => {
      let n = 0;
      for await (const ev of random.generate({ prompt: 'a b c a b c a b c a b', sampling: { ...DEFAULT_SAMPLING, maxTokens: 40 }, promptLookup: 4 } as EngineRequest)) if (ev.type === 'token') n++;
      return n;
    })();
    const [constrained, n] = await Promise.all([run(random, { type: 'json_schema', schema }), drafting]);
    expect(n).toBeGreaterThan(0);
    expect(constrained.done.finishReason, constrained.text).toBe('stop');
    expect(ajv.compile(schema)(JSON.parse(constrained.text))).toBe(true);
  });
});
