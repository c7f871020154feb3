import { describe, expect, it } from 'vitest';
import { TrineError } from '@trine/core';
import { parseArgs, USAGE, type BenchOptions } from './options.js';

describe('bench flags', () => {
  it("take llama-bench's short spellings and comma lists", () => {
    const o = parseArgs(['--quick', '-t', '1,4,4', '-n', '8', '-p', '16', '-r', '2', '--shapes', 'TINY', '--formats=tq2_0,i2_s']) as BenchOptions;
    expect(o).toMatchObject({ threads: [1, 4], decodeTokens: 8, prefillTokens: 16, reps: 2, shapes: ['tiny'], formats: ['tq2_0', 'i2_s'] });
  });

  it('default what the table and --quick say', () => {
    const o = parseArgs([]) as BenchOptions;
    expect(o).toMatchObject({ quick: false, decodeTokens: 64, prefillTokens: 128, reps: 3, threshold: 0.1, out: 'bench-results', formats: ['i2_s'], concurrency: [1, 32] });
    expect(parseArgs(['--quick', '--no-serving'])).toMatchObject({ reps: 1, concurrency: [], batched: false });
  });

  it('answer --help and -h with the usage written from the table; a stray argument names itself', () => {
    expect(parseArgs(['-h'])).toBe('help');
    expect(USAGE).toMatch(/-t, --threads N\[,…\] +thread counts/);
    expect(USAGE).toMatch(/--out PATH +results directory \(default bench-results\)/);
    expect(() => parseArgs(['tiny'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'args' }) as TrineError);
    expect(() => parseArgs(['-n', '0'])).toThrow("--decode-tokens: '0' is not an integer in [1, 4096]");
  });
});
