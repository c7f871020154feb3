/** The bench report: one JSON document per run (bench-results/<run>/report.json). */

export const REPORT_SCHEMA = 'trine-bench/1';

/** Vendor id, family, model and stepping from /proc/cpuinfo (absent off Linux / on ARM). */
export interface CpuIdentity {
  readonly vendor: string;
  readonly family: number;
  readonly model: number;
  readonly stepping?: number;
  /** Zen 4, Emerald Rapids …, where the family and model name one. */
  readonly microarchitecture?: string;
}

export interface HostFacts {
  readonly cpuModel: string;
  readonly cpu?: CpuIdentity;
  /** SIMD features that matter to the kernels (avx2, avx512f, avx512_vnni, neon, asimddp …). */
  readonly simd: readonly string[];
  readonly logicalCores: number;
  readonly physicalCores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly platform: string;
  readonly commit: string;
  /** Read-only memory bandwidth measured on this host, GB/s, by thread count (for roofline percentages). */
  readonly memoryBandwidthGBs?: Readonly<Record<string, number>>;
  readonly gpu?: string;
  /** 1-minute load average when the run started and ended: how busy the (possibly shared) machine was. */
  readonly loadAverage?: { readonly start: number; readonly end: number };
}

export type Suite = 'decode' | 'prefill' | 'batched' | 'kernel' | 'load' | 'serving' | 'quality' | 'hardening' | 'reuse' | 'constrain';

export interface BenchResult {
  readonly suite: Suite;
  /** `trine`, `bitnet.cpp` or `llama.cpp`. */
  readonly engine: string;
  readonly backend: string;
  readonly variant?: string;
  /** Model shape name (`2b4t`, `700m`, …) or kernel shape (`6912x2560`). */
  readonly shape: string;
  readonly threads: number;
  readonly batch: number;
  readonly context?: number;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly note?: string;
}

/** A measurement that could not run here, and why ("unavailable: …"). */
export interface SkippedRun {
  readonly what: string;
  readonly reason: string;
}

/** Trine against an external engine on the same file, same run, same threads: ratio = trine / external. */
export interface EngineRatio {
  readonly suite: 'decode' | 'prefill';
  readonly shape: string;
  readonly threads: number;
  readonly backend: string;
  readonly variant?: string;
  readonly external: string;
  readonly trine: number;
  readonly other: number;
  readonly ratio: number;
}

export interface BenchReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly run: { readonly id: string; readonly startedAt: string; readonly mode: 'quick' | 'full'; readonly args: readonly string[]; readonly seconds?: number };
  readonly host: HostFacts;
  readonly results: readonly BenchResult[];
  readonly skipped?: readonly SkippedRun[];
  readonly ratios?: readonly EngineRatio[];
  /** Model files measured: shape → path and size. */
  readonly models?: Readonly<Record<string, { readonly path: string; readonly bytes: number; readonly format: string }>>;
}

/** Identity of a measurement across runs: everything but the value. */
export function resultKey(r: BenchResult): string {
  return [r.suite, r.engine, r.backend, r.variant ?? '', r.shape, `t${r.threads}`, `b${r.batch}`, `c${r.context ?? ''}`, r.metric].join('|');
}
