import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SAMPLING, Engine, ensureDefaultModel, type ResponseFormat } from '@trine/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuBackendFactory } from '../src/index.js';

// Constrained decoding on the cpu backend: the mask is applied on the host to the logits the backend reads back,
// so every backend gets it; core's structured.test.ts checks the full schema corpus with ajv on the reference backend.
let dir: string;
let engine: Engine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trine-cpu-constrain-'));
  engine = await Engine.load({ model: await ensureDefaultModel({ cacheDir: dir, random: true }), backend: cpuBackendFactory, threads: 2, maxBatch: 4, context: 256, prefixCacheTokens: 0 });
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

async function text(responseFormat: ResponseFormat, seed?: number): Promise<{ text: string; finish: string }> {
  let out = '';
  let finish = '';
  const sampling = { ...DEFAULT_SAMPLING, maxTokens: 200, responseFormat, ...(seed !== undefined ? { temperature: 1, seed } : {}) };
  for await (const ev of engine.generate({ prompt: 'JSON:', sampling })) {
    out += ev.text;
    if (ev.type === 'done') finish = ev.finishReason;
  }
  return { text: out, finish };
}

describe('structured output on the cpu backend (random-weight model)', () => {
  it('a JSON Schema, greedy and sampled, gives JSON with the required shape', async () => {
    const schema = {
      type: 'object',
      properties: { id: { type: 'integer' }, tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, minItems: 1, maxItems: 3 }, ok: { type: ['boolean', 'null'] } },
      required: ['id', 'tags', 'ok'],
      additionalProperties: false,
    };
    const runs = await Promise.all([undefined, 1, 2, 3].map((seed) => text({ type: 'json_schema', schema }, seed)));
    for (const r of runs) {
      expect(r.finish, r.text).toBe('stop');
      const v = JSON.parse(r.text) as { id: unknown; tags: unknown[]; ok: unknown };
      expect(Object.keys(v)).toEqual(['id', 'tags', 'ok']);
      expect(Number.isInteger(v.id)).toBe(true);
      expect(v.tags.length >= 1 && v.tags.length <= 3 && v.tags.every((t) => ['a', 'b', 'c'].includes(t as string))).toBe(true);
      expect(v.ok === null || typeof v.ok === 'boolean').toBe(true);
    }
  });

  it('a GBNF grammar and a regex', async () => {
    const g = await text({ type: 'grammar', grammar: 'root ::= "(" [0-9]{1,3} ("+" [0-9]{1,3})* ")"' }, 5);
    expect(g.text).toMatch(/^\([0-9]{1,3}(\+[0-9]{1,3})*\)$/);
    const re = await text({ type: 'regex', pattern: '(red|green|blue) [a-z]{2,4}' });
    expect(re.text).toMatch(/^(red|green|blue) [a-z]{2,4}$/);
  });
});
