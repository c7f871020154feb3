import { f16ToF32 } from '@trine/core';
import type { CaseOutput, Check, OutputComparison, OutputData } from './types.js';

/**
 * NMSE as ggml's test-backend-ops defines it: Σ(actual − expected)² / Σ expected². When the expected output is all
 * zero the error energy alone is returned (0 only when actual is all zero too). Any non-finite value where the
 * reference has the same non-finite value counts as equal; anywhere else it makes the NMSE infinite.
 */
export function nmse(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (Object.is(e, a)) continue;
      return Infinity;
    }
    err += (a - e) * (a - e);
    ref += e * e;
  }
  if (ref === 0) return err;
  return err / ref;
}

export function maxAbsError(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Object.is(e, a)) continue;
    const d = Math.abs(a - e);
    if (!(d <= m)) m = d; // NaN or Inf difference wins
  }
  return m;
}

/** f16 bit patterns compare as values (so a backend writing -0 for 0 is judged by NMSE, not by bits). */
type Numbers = Exclude<OutputData, Uint16Array>;

function values(d: OutputData): Numbers {
  if (d instanceof Uint16Array) {
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = f16ToF32(d[i]!);
    return out;
  }
  return d;
}

function where(i: number, rowLength: number | undefined): string {
  if (!rowLength) return `[${i}]`;
  return `[${Math.floor(i / rowLength)}, ${i % rowLength}]`;
}

export function formatNumber(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(6))) : x.toExponential(2);
}

export function describeCheck(c: Check): string {
  return c.kind === 'exact' ? 'exact' : `nmse ≤ ${c.max.toExponential(0)}`;
}

/** Compare one output with the reference's under its check; the detail line is what a failing test prints. */
export function compareOutput(expected: CaseOutput, actual: CaseOutput): OutputComparison {
  const check = expected.check;
  const name = expected.name;
  if (actual.data.length !== expected.data.length) {
    return {
      name, check, ok: false, elements: expected.data.length,
      detail: `${name}: length ${actual.data.length}, expected ${expected.data.length}`,
    };
  }
  const e = values(expected.data);
  const a = values(actual.data);
  if (check.kind === 'exact') {
    let mismatches = 0;
    let first = -1;
    for (let i = 0; i < e.length; i++) {
      if (e[i] !== a[i]) {
        mismatches++;
        if (first < 0) first = i;
      }
    }
    const ok = mismatches === 0;
    const detail = ok
      ? `${name}: ${e.length} elements equal`
      : `${name}: ${mismatches} of ${e.length} differ; first at ${where(first, expected.rowLength)}: ` +
        `got ${a[first]}, expected ${e[first]}`;
    return { name, check, ok, mismatches, elements: e.length, maxAbsErr: maxAbsError(e, a), detail };
  }
  // Per row, worst row wins: a tensor-wide NMSE would let a large row hide a broken small one (a zero row, a tiny one).
  const rowLen = expected.rowLength && expected.rowLength > 0 ? expected.rowLength : e.length;
  let err = 0;
  let worstRow = 0;
  for (let r = 0; r * rowLen < e.length || r === 0; r++) {
    const from = r * rowLen;
    const to = Math.min(e.length, from + rowLen);
    const rowErr = nmse(e.subarray(from, to), a.subarray(from, to));
    if (rowErr > err || Number.isNaN(rowErr)) {
      err = Number.isNaN(rowErr) ? Infinity : rowErr;
      worstRow = r;
    }
  }
  const maxAbsErr = maxAbsError(e, a);
  const ok = err <= check.max;
  const rowNote = rowLen < e.length ? ` (worst row ${worstRow})` : '';
  let detail = `${name}: nmse ${formatNumber(err)}${rowNote} (≤ ${check.max.toExponential(0)}), max abs err ${formatNumber(maxAbsErr)}`;
  if (!ok) {
    let worst = 0;
    let worstD = -1;
    for (let i = 0; i < e.length; i++) {
      if (Object.is(a[i], e[i])) continue;
      let d = Math.abs(a[i]! - e[i]!);
      if (Number.isNaN(d)) d = Infinity;
      if (d > worstD) {
        worst = i;
        worstD = d;
      }
    }
    detail += `; worst at ${where(worst, expected.rowLength)}: got ${a[worst]}, expected ${e[worst]}`;
  }
  return { name, check, ok, nmse: err, maxAbsErr, elements: e.length, detail };
}

export function compareOutputs(expected: readonly CaseOutput[], actual: readonly CaseOutput[]): OutputComparison[] {
  return expected.map((exp) => {
    const act = actual.find((o) => o.name === exp.name);
    if (!act) {
      return { name: exp.name, check: exp.check, ok: false, elements: exp.data.length, detail: `${exp.name}: missing` };
    }
    return compareOutput(exp, act);
  });
}
