import { resultKey, type BenchReport, type BenchResult } from './schema.js';

export interface Regression {
  readonly key: string;
  readonly baseline: number;
  readonly current: number;
  /** Signed change in the "better" direction: −0.15 means 15 % worse. */
  readonly change: number;
}

export interface Comparison {
  readonly regressions: readonly Regression[];
  readonly improvements: readonly Regression[];
  readonly matched: number;
  readonly missing: readonly string[];
}

/**
 * Compare a run against a stored baseline. A result regresses when it is worse than the baseline by more than
 * `threshold` (0.1 = 10 %) in its own direction (tokens/s down, latency up).
 */
export function compareReports(current: BenchReport, baseline: BenchReport, threshold: number): Comparison {
  const base = new Map<string, BenchResult>(baseline.results.map((r) => [resultKey(r), r]));
  const regressions: Regression[] = [];
  const improvements: Regression[] = [];
  let matched = 0;
  for (const r of current.results) {
    const key = resultKey(r);
    const b = base.get(key);
    if (!b || b.value === 0 || !Number.isFinite(b.value) || !Number.isFinite(r.value)) continue;
    matched++;
    const rel = (r.value - b.value) / Math.abs(b.value);
    const change = r.higherIsBetter ? rel : -rel;
    const entry = { key, baseline: b.value, current: r.value, change };
    if (change < -threshold) regressions.push(entry);
    else if (change > threshold) improvements.push(entry);
  }
  const seen = new Set(current.results.map(resultKey));
  const missing = [...base.keys()].filter((k) => !seen.has(k));
  return { regressions, improvements, matched, missing };
}
