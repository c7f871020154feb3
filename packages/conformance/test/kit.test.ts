import { createReferenceBackend, KERNEL_NAMES } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { ALL_CASES } from '../src/cases/all.js';
import { compareGreedy } from '../src/cases/model.js';
import { compareOutput, nmse } from '../src/compare.js';
import { Prng } from '../src/prng.js';
import { runConformance } from '../src/runner.js';

describe('the case inventory', () => {
  it('covers every kernel in KERNEL_NAMES and whole models, with unique names', () => {
    const ops = new Set(ALL_CASES.map((c) => c.op));
    for (const k of KERNEL_NAMES) expect(ops.has(k), k).toBe(true);
    expect(ops.has('model')).toBe(true);
    expect(new Set(ALL_CASES.map((c) => c.name)).size).toBe(ALL_CASES.length);
    for (const c of ALL_CASES) expect(c.requires.length, c.name).toBeGreaterThan(0);
  });

  it('builds its inputs from the seed alone: a case gives the same outputs before and after other cases ran', async () => {
    const be = createReferenceBackend();
    const pick = ['lmHead/q8/V1000', 'quantizeActs/per_token/n7', 'ternaryMatmulAcc/per_block256/tq1_0/n3', 'attention/f16/gqa4/batched'];
    const cases = pick.map((p) => ALL_CASES.find((c) => c.name.startsWith(p))!);
    const run = async (i: number) => {
      const p = await cases[i]!.prepare(be);
      await p.run();
      const o = await p.outputs();
      p.dispose();
      return o;
    };
    const first = [];
    for (let i = 0; i < cases.length; i++) first.push(await run(i));
    for (let i = cases.length - 1; i >= 0; i--) {
      const again = await run(i);
      for (let j = 0; j < again.length; j++) expect(again[j]!.data, cases[i]!.name).toEqual(first[i]![j]!.data);
    }
  });
});

describe('comparison', () => {
  it('nmse is Σ(a−e)²/Σe², infinite on a NaN the reference does not have', () => {
    expect(nmse([1, 2], [1, 2])).toBe(0);
    expect(nmse([3, 4], [3, 5])).toBeCloseTo(1 / 25, 12);
    expect(nmse([0, 0], [0, 0.5])).toBe(0.25);
    expect(nmse([1, NaN], [1, NaN])).toBe(0);
    expect(nmse([1, 2], [1, NaN])).toBe(Infinity);
    expect(nmse([1, -Infinity], [1, -Infinity])).toBe(0);
  });

  it('per-row NMSE: a broken small row is not hidden by a large one', () => {
    const e = Float32Array.of(1000, 1000, 0.001, 0.001);
    const a = Float32Array.of(1000, 1000, 0.002, 0.001);
    const r = compareOutput({ name: 'y', data: e, check: { kind: 'nmse', max: 1e-6 }, rowLength: 2 }, { name: 'y', data: a, check: { kind: 'nmse', max: 1e-6 } });
    expect(r.ok).toBe(false);
    expect(r.nmse).toBeCloseTo(0.5, 6);
    expect(r.detail).toContain('worst row 1');
    expect(r.detail).toContain('worst at [1, 0]');
  });

  it('exact checks count mismatches and name the first as [row, col]', () => {
    const r = compareOutput(
      { name: 'acc', data: Int32Array.of(1, 2, 3, 4, 5, 6), check: { kind: 'exact' }, rowLength: 3 },
      { name: 'acc', data: Int32Array.of(1, 2, 3, 4, 7, 7), check: { kind: 'exact' } },
    );
    expect(r).toMatchObject({ ok: false, mismatches: 2, maxAbsErr: 2 });
    expect(r.detail).toBe('acc: 2 of 6 differ; first at [1, 1]: got 7, expected 5');
  });
});

it('the PRNG is deterministic per seed and roughly uniform', () => {
  const a = new Prng(5);
  const b = new Prng(5);
  const xs = Array.from({ length: 1000 }, () => a.float());
  expect(Array.from({ length: 1000 }, () => b.float())).toEqual(xs);
  expect(new Prng(6).float()).not.toBe(xs[0]);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  expect(mean).toBeGreaterThan(0.45);
  expect(mean).toBeLessThan(0.55);
  const ints = new Set(Array.from({ length: 200 }, () => a.int(-1, 1)));
  expect([...ints].sort()).toEqual([-1, 0, 1]);
});

it('perf mode times each supported case without comparing', async () => {
  const r = await runConformance(createReferenceBackend(), { mode: 'perf', filter: 'add/', perfMinMs: 2, perfMaxRuns: 8 });
  expect(r.reference).toBeUndefined();
  expect(r.results).toHaveLength(3);
  for (const c of r.results) {
    expect(c.status).toBe('pass');
    expect(c.iterations).toBeGreaterThanOrEqual(1);
    expect(c.iterations).toBeLessThanOrEqual(8);
    expect(c.metric).toMatch(/ms\/run over \d+ runs$/);
  }
});

describe('greedy comparison', () => {
  const V = 4;
  const expected = [
    { name: 'tokens', data: Int32Array.of(2, 1, 3), check: { kind: 'exact' } as const },
    // Step 1: tokens 1 and 0 are a near-tie (gap 0.0005); step 0: token 2 leads token 3 by 0.5.
    { name: 'logits', data: Float32Array.of(0, 0, 1, 0.5, 0.9995, 1, 0, 0, 0, 0, 0, 1), check: { kind: 'nmse', max: 1e-3 } as const, rowLength: V },
  ];
  const actualWith = (tokens: number[]) => [
    { ...expected[0]!, data: Int32Array.from(tokens) },
    { ...expected[1]!, data: (expected[1]!.data as Float32Array).slice() },
  ];

  it('passes equal tokens', () => {
    expect(compareGreedy(expected, actualWith([2, 1, 3]), V).every((c) => c.ok)).toBe(true);
  });
  it('accepts a divergence at a near-tie and reports its step and gap', () => {
    const [tokens] = compareGreedy(expected, actualWith([2, 0, 1]), V);
    expect(tokens!.ok).toBe(true);
    expect(tokens!.detail).toMatch(/first differ at step 1 \(got 0, expected 1\); reference logit gap 5\.0*e-4 ≤ 0\.25: a near-tie/);
  });
  it('fails a divergence where the reference had a clear winner', () => {
    const [tokens] = compareGreedy(expected, actualWith([3, 1, 3]), V);
    expect(tokens!.ok).toBe(false);
    expect(tokens!.detail).toMatch(/first differ at step 0 \(got 3, expected 2\); reference logit gap 0\.5 > 0\.25: not a near-tie/);
  });
});
