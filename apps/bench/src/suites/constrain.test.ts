import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrineError } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { llama3ShapedVocabulary, readTiktokenVocabulary } from '../model/vocab.js';
import type { BenchResult } from '../report/schema.js';
import { maskShareOfStep } from './constrain.js';

describe('constrain suite', () => {
  it('draws a vocabulary of distinct pieces: every byte, 3-digit numbers, the asked size', () => {
    const v = llama3ShapedVocabulary(5000, 7);
    expect(v).toHaveLength(5000);
    expect(new Set(v.map((p) => Buffer.from(p).toString('latin1'))).size).toBe(5000);
    for (let b = 0; b < 256; b++) expect(v[b]).toEqual(Uint8Array.of(b));
    const text = new Set(v.map((p) => new TextDecoder().decode(p)));
    expect(text.has('999') && text.has(' '.repeat(16))).toBe(true);
    expect(llama3ShapedVocabulary(5000, 7)).toEqual(v); // deterministic
  });

  it('reads a tiktoken file by rank and names the flag on a bad line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vocab-'));
    try {
      const good = join(dir, 'good.model');
      await writeFile(good, `${Buffer.from(' the').toString('base64')} 1\n${Buffer.from('!').toString('base64')} 0\n`);
      expect(await readTiktokenVocabulary(good)).toEqual([new Uint8Array([33]), new Uint8Array(Buffer.from(' the'))]);
      const bad = join(dir, 'bad.model');
      await writeFile(bad, 'IQ== 0\nnot a line\n');
      const err = await readTiktokenVocabulary(bad).catch((e: unknown) => e);
      expect(TrineError.is(err, 'INVALID_ARGUMENT') && (err as TrineError).field === 'constrain-vocab').toBe(true);
      expect((err as Error).message).toContain('line 2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives each mask row its share of the same run's 2B4T 1-thread decode step", () => {
    const decode = (context: number, value: number): BenchResult => ({ suite: 'decode', engine: 'trine', backend: 'cpu', shape: '2b4t', threads: 1, batch: 1, context, metric: 'tokens_per_s', value, unit: 'tok/s', higherIsBetter: true });
    const mask = (metric: string, batch: number, value: number): BenchResult => ({ suite: 'constrain', engine: 'trine', backend: 'host', variant: 'warm', shape: 'json', threads: 1, batch, metric, value, unit: 'ms', higherIsBetter: false });
    const rows = maskShareOfStep([decode(1024, 10), decode(8, 16), mask('mask_ms_p99', 1, 2.5), mask('mask_ms_mean', 1, 1), mask('mask_ms_p50', 8, 0.5)]);
    expect(rows.find((r) => r.metric === 'decode_step_ms')?.value).toBe(62.5); // the shallowest context: 16 tok/s
    expect(rows.find((r) => r.metric === 'pct_of_step_p99')?.value).toBe(4);
    expect(rows.find((r) => r.metric === 'pct_of_step_p50' && r.batch === 8)?.value).toBe(0.8);
    expect(rows.some((r) => r.metric.includes('mean'))).toBe(false);
    expect(maskShareOfStep([mask('mask_ms_p99', 1, 2.5)])).toEqual([]); // no decode step, no share
  });
});
