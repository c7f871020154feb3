import { checked, createReferenceBackend, type KernelBackend, type Support } from '@trine/core';
import { compareOutputs, describeCheck, formatNumber } from './compare.js';
import { ALL_CASES } from './cases/all.js';
import type {
  CaseOutput,
  CaseResult,
  CaseStatus,
  ConformanceCase,
  ConformanceMode,
  ConformanceReport,
  OutputComparison,
  PreparedCase,
} from './types.js';

/** Browser-safe: no Node modules here. The clock is the global `performance`. */
const now = (): number => performance.now();

export type CaseFilter = string | RegExp | ((c: ConformanceCase) => boolean);

export interface RunOptions {
  /** `test` (default): compare with the reference. `perf`: time each case's run. `support`: only ask supports(). */
  mode?: ConformanceMode;
  /**
   * Which cases: a string keeps cases whose name contains any of its comma-separated parts (`rope,attention/f16`),
   * a RegExp those whose name matches, a function those it accepts.
   */
  filter?: CaseFilter;
  /** Also run the cases marked `large` (real 2B4T shapes). Default true. */
  large?: boolean;
  /** The oracle (default: a fresh core reference backend). */
  reference?: KernelBackend;
  /** Cases to choose from (default: every op and model case). */
  cases?: readonly ConformanceCase[];
  /** perf mode: time each case for at least this long (default 200 ms) and at most this many runs (default 1000). */
  perfMinMs?: number;
  perfMaxRuns?: number;
  /**
   * Reference outputs by case name, shared between runs of several backends so the reference computes each case
   * once (the CLI passes one map to every backend's run).
   */
  expectedCache?: Map<string, CaseOutput[]>;
  /** Called after each case (progress output). */
  onResult?: (r: CaseResult) => void;
}

export function selectCases(options: Pick<RunOptions, 'filter' | 'large' | 'cases'> = {}): ConformanceCase[] {
  const all = options.cases ?? ALL_CASES;
  const f = options.filter;
  const match =
    f === undefined || f === ''
      ? () => true
      : typeof f === 'function'
        ? f
        : f instanceof RegExp
          ? (c: ConformanceCase) => f.test(c.name)
          : (c: ConformanceCase) => f.split(',').some((part) => part.trim() !== '' && c.name.includes(part.trim()));
  return all.filter((c) => match(c) && (options.large !== false || c.size !== 'large'));
}

function supportOf(backend: KernelBackend, c: ConformanceCase): Support {
  const reasons: string[] = [];
  for (const v of c.requires) {
    const s = backend.supports(v);
    if (!s.ok) reasons.push(`${Object.values(v).join('/')}: ${s.reason}`);
  }
  return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') };
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}

/** Run a prepared case once and read its outputs, disposing it whatever happens. */
async function runOnce(backend: KernelBackend, c: ConformanceCase) {
  const p: PreparedCase = await c.prepare(backend);
  try {
    const t0 = now();
    await p.run();
    const outputs = await p.outputs();
    return { outputs, ms: now() - t0 };
  } finally {
    p.dispose();
  }
}

function headline(cmp: readonly OutputComparison[]): string {
  return cmp
    .map((o) =>
      o.check.kind === 'exact'
        ? `${o.name}: ${o.mismatches ? `${o.mismatches}/${o.elements} differ` : 'equal'}`
        : `${o.name}: nmse ${formatNumber(o.nmse ?? NaN)}, max|Δ| ${formatNumber(o.maxAbsErr ?? NaN)}`,
    )
    .join('; ');
}

/**
 * Whether a case the backend declares unsupported runs on it anyway (past supports(), unvalidated) and matches the
 * reference: a declared gap must be real, so supports() cannot hide a variant that works (nor, by the pass/fail
 * of supported cases, claim one that does not).
 */
async function runsAnyway(backend: KernelBackend, c: ConformanceCase, reference: KernelBackend, expectedCache?: Map<string, CaseOutput[]>): Promise<boolean> {
  try {
    const actual = await runOnce(backend, c);
    const expected = expectedCache?.get(c.name) ?? (await runOnce(reference, c)).outputs;
    expectedCache?.set(c.name, expected);
    const cmp = c.compare ? c.compare(expected, actual.outputs) : compareOutputs(expected, actual.outputs);
    return cmp.every((o) => o.ok);
  } catch {
    return false; // it refuses or breaks: the gap is real
  }
}

/**
 * One case on one backend: `unsupported` with the reason when any variant it needs is not supported (in test
 * mode, a `fail` when it runs and matches anyway); otherwise `pass` / `fail` against the reference (test) or a
 * timing (perf). Never throws: an exception is a failure.
 */
export async function runCase(
  backend: KernelBackend,
  c: ConformanceCase,
  reference: KernelBackend,
  mode: ConformanceMode = 'test',
  perf: { minMs?: number; maxRuns?: number } = {},
  expectedCache?: Map<string, CaseOutput[]>,
): Promise<CaseResult> {
  const base = { name: c.name, op: c.op };
  let support: Support;
  try {
    support = supportOf(backend, c);
  } catch (e) {
    return { ...base, status: 'fail', reason: `supports() threw: ${message(e)}`, tolerance: '', ms: 0 };
  }
  if (!support.ok) {
    const unsupported = { ...base, status: 'unsupported', reason: support.reason, tolerance: '', ms: 0 } as const;
    if (mode !== 'test' || !(await runsAnyway(backend, c, reference, expectedCache))) return unsupported;
    return { ...unsupported, status: 'fail', reason: `declared unsupported (${support.reason}), yet it runs and matches the reference` };
  }
  if (mode === 'support') return { ...base, status: 'pass', tolerance: '', ms: 0 };

  // Validate every call the kit makes on the backend under test, so a kit bug cannot pass as a backend result.
  const b = checked(backend);
  if (mode === 'perf') return perfCase(b, c, perf);

  let actual;
  try {
    actual = await runOnce(b, c);
  } catch (e) {
    return { ...base, status: 'fail', reason: `${backend.info.name} threw: ${message(e)}`, tolerance: '', ms: 0 };
  }
  let expected = expectedCache?.get(c.name);
  if (!expected) {
    try {
      expected = (await runOnce(reference, c)).outputs;
    } catch (e) {
      return { ...base, status: 'fail', reason: `reference threw: ${message(e)}`, tolerance: '', ms: actual.ms };
    }
    expectedCache?.set(c.name, expected);
  }
  const cmp = c.compare ? c.compare(expected, actual.outputs) : compareOutputs(expected, actual.outputs);
  const failed = cmp.filter((o) => !o.ok);
  const status: CaseStatus = failed.length === 0 ? 'pass' : 'fail';
  return {
    ...base,
    status,
    ...(failed.length ? { reason: failed.map((o) => o.detail).join('; ') } : {}),
    tolerance: cmp.map((o) => `${o.name}: ${describeCheck(o.check)}`).join('; '),
    metric: headline(cmp),
    outputs: cmp,
    ms: actual.ms,
  };
}

async function perfCase(b: KernelBackend, c: ConformanceCase, perf: { minMs?: number; maxRuns?: number }): Promise<CaseResult> {
  const base = { name: c.name, op: c.op, tolerance: '' };
  const minMs = perf.minMs ?? 200;
  const maxRuns = perf.maxRuns ?? 1000;
  let p: PreparedCase | undefined;
  try {
    p = await c.prepare(b);
    await p.run(); // warm-up: first-use compilation, repacking caches
    await p.sync();
    let runs = 0;
    const t0 = now();
    let elapsed = 0;
    // Sync only every few runs: a backend may queue work, and the read would otherwise dominate small ops.
    while (runs < maxRuns && elapsed < minMs) {
      const batch = Math.min(maxRuns - runs, Math.max(1, runs));
      for (let i = 0; i < batch; i++) await p.run();
      await p.sync();
      runs += batch;
      elapsed = now() - t0;
    }
    return { ...base, status: 'pass', ms: elapsed / runs, iterations: runs, metric: `${formatNumber(elapsed / runs)} ms/run over ${runs} runs` };
  } catch (e) {
    return { ...base, status: 'fail', reason: `${b.info.name} threw: ${message(e)}`, ms: 0 };
  } finally {
    p?.dispose();
  }
}

/** Run the kit on one backend. The report lists every selected case as pass, fail or unsupported. */
export async function runConformance(backend: KernelBackend, options: RunOptions = {}): Promise<ConformanceReport> {
  const mode = options.mode ?? 'test';
  const reference = options.reference ?? createReferenceBackend();
  const cases = selectCases(options);
  const results: CaseResult[] = [];
  const t0 = now();
  try {
    for (const c of cases) {
      const perf = { minMs: options.perfMinMs, maxRuns: options.perfMaxRuns };
      const r = await runCase(backend, c, reference, mode, perf, options.expectedCache);
      results.push(r);
      options.onResult?.(r);
    }
  } finally {
    if (!options.reference) reference.destroy();
  }
  const counts: Record<CaseStatus, number> = { pass: 0, fail: 0, unsupported: 0 };
  for (const r of results) counts[r.status]++;
  return {
    backend: backend.info,
    ...(mode === 'test' ? { reference: reference.info } : {}),
    mode,
    results,
    counts,
    ok: counts.fail === 0,
    ms: now() - t0,
  };
}
