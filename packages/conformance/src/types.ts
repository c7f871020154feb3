import type { BackendInfo, KernelBackend, KernelName, KernelVariant } from '@trine/core';

/** How one output is compared with the reference's. */
export type Check =
  /** Bit-for-bit equal (integer results: accumulators, int8 activations, argmax, token ids). */
  | { readonly kind: 'exact' }
  /** Normalized mean squared error Σ(a−r)² / Σr², per row (worst row), at most `max` (float results). */
  | { readonly kind: 'nmse'; readonly max: number };

export type OutputData = Float32Array | Int32Array | Int8Array | Uint16Array;

/** One named result a case reads back from a backend. */
export interface CaseOutput {
  readonly name: string;
  readonly data: OutputData;
  readonly check: Check;
  /** Row length, so a mismatch can be reported as [row, col]. */
  readonly rowLength?: number;
}

/** A case's inputs uploaded to one backend, ready to run. */
export interface PreparedCase {
  /** Run the op(s) under test once. Perf mode calls it repeatedly. */
  run(): void | Promise<void>;
  /** Read the results back (after `run`). */
  outputs(): Promise<CaseOutput[]>;
  /** Wait until queued work is done (perf mode): one small read. */
  sync(): Promise<void>;
  dispose(): void;
}

/** How one output compared. */
export interface OutputComparison {
  readonly name: string;
  readonly check: Check;
  readonly ok: boolean;
  /** Measured NMSE (nmse checks). */
  readonly nmse?: number;
  /** Largest |actual − expected|. */
  readonly maxAbsErr?: number;
  /** Elements that differ (exact checks). */
  readonly mismatches?: number;
  readonly elements: number;
  /** One line: where and how it differs, or the measured metric. */
  readonly detail: string;
}

export interface ConformanceCase {
  /** Unique, `op/variant/shape`, e.g. `ternaryMatmulAcc/i2_s/per_token/n1.K2560.N6912`. */
  readonly name: string;
  /** The kernel under test, or `model` for whole-model cases. */
  readonly op: KernelName | 'model';
  /** Every op variant the case needs; one unsupported variant makes the case `unsupported`. */
  readonly requires: readonly KernelVariant[];
  /** What the case builds its inputs to exercise (for the report). */
  readonly description: string;
  /** Rough size, for choosing cases in quick runs: 'small' cases take milliseconds on the reference. */
  readonly size: 'small' | 'large';
  prepare(backend: KernelBackend): PreparedCase | Promise<PreparedCase>;
  /** Replaces the per-output comparison (greedy tokens, where a near-tie is allowed to differ). */
  compare?(expected: readonly CaseOutput[], actual: readonly CaseOutput[]): OutputComparison[];
}

export type CaseStatus = 'pass' | 'fail' | 'unsupported';

export interface CaseResult {
  readonly name: string;
  readonly op: KernelName | 'model';
  readonly status: CaseStatus;
  /** Why unsupported, or what failed (an exception's message, or the first failing output's detail). */
  readonly reason?: string;
  /** The tolerance each output was held to, e.g. `q: exact; scales: nmse ≤ 1e-12`. */
  readonly tolerance: string;
  /** The headline metric: worst NMSE / max abs error, or mismatching elements. */
  readonly metric?: string;
  readonly outputs?: readonly OutputComparison[];
  /** test mode: time of the backend's run + read; perf mode: mean time of one run. */
  readonly ms: number;
  /** perf mode: runs timed. */
  readonly iterations?: number;
}

export type ConformanceMode = 'test' | 'perf' | 'support';

export interface ConformanceReport {
  readonly backend: BackendInfo;
  readonly reference?: BackendInfo;
  readonly mode: ConformanceMode;
  readonly results: readonly CaseResult[];
  readonly counts: Readonly<Record<CaseStatus, number>>;
  /** True when no case failed (unsupported cases do not fail a run). */
  readonly ok: boolean;
  readonly ms: number;
}
