/**
 * The batch-1 ternary kernel, chosen per host by measurement (issue 23). A code path (avx512, …) may offer several
 * kernels for one token (native/common.h GemvKernel: tilings and instruction widths); they give the same integer
 * sums bit for bit, but which is fastest depends on the CPU (512-bit ops are one pass on Zen 5 and Intel, two
 * halves on Zen 4) and on how the weights stream from memory. So at a shape's first batch-1 call the tuner times
 * every candidate on the model's own matrices of that shape — each call reads a different layer's weights, cold,
 * as in a decode step — and keeps the fastest. Forced by name with `gemv` / TRINE_CPU_GEMV.
 */
import { TrineError } from '@trine/core';
import type { CpuTernary } from './handles.js';
import type { NativeBackend } from './native.js';

/** What was chosen for one shape, and the measurement it came from. */
export interface GemvChoice {
  /** `${rows}x${cols}`. */
  readonly shape: string;
  readonly kernel: string;
  /**
   * `measured`, `measured earlier` (by another backend of this process with the same path and threads, e.g. the
   * backend selection trial's), `forced` (gemv option / TRINE_CPU_GEMV) or `only` (the path has one kernel).
   */
  readonly why: 'measured' | 'measured earlier' | 'forced' | 'only';
  /** Lower quartile of µs per call of each candidate (measured only). */
  readonly microseconds?: Readonly<Record<string, number>>;
  /** Matrices of this shape the timing swept. */
  readonly matrices?: number;
}

/** "2560x2560: zmm-linear2 (measured: zmm-linear2 42 µs, … per call (lower quartile) over 60 matrices)": bench output, `trine info`. */
export function describeGemvChoice(c: GemvChoice): string {
  const times = c.microseconds
    ? `: ${Object.entries(c.microseconds).map(([k, us]) => `${k} ${us} µs`).join(', ')} per call (lower quartile) over ${c.matrices} matrices`
    : '';
  return `${c.shape}: ${c.kernel} (${c.why}${times})`;
}

/**
 * Rounds over every candidate (each a sweep over the shape's matrices); calls timed one by one and the lower quartile
 * kept: on a shared machine a call the scheduler interrupted is among the slowest, not the typical one.
 */
const ROUNDS = 3;
/** At most this many matrices per sweep (a 2B4T shape has 30 or 60; more adds time, not information). */
const MAX_MATRICES = 64;

/** Choices measured in this process, by path, thread count and shape: a later backend like it reuses them. */
const measuredInProcess = new Map<string, GemvChoice>();

export class GemvTuner {
  private readonly byShape = new Map<string, WeakRef<CpuTernary>[]>();
  private readonly chosen = new Map<string, GemvChoice>();
  readonly kernels: readonly string[];
  private readonly forced: number;

  private readonly processKey: string;

  constructor(private readonly native: NativeBackend, forced: string | undefined) {
    this.processKey = `${native.variant()}/${native.threads()}`;
    this.kernels = native.gemvKernels();
    this.forced = -1;
    if (forced !== undefined && forced !== '') {
      this.forced = this.kernels.indexOf(forced);
      if (this.forced < 0)
        throw new TrineError('INVALID_ARGUMENT',
          `cpu backend: gemv kernel '${forced}' is not one of ${native.variant()}'s: ${this.kernels.join(', ') || '(one kernel only)'}`,
          { field: 'gemv' });
    }
  }

  /** Every uploaded matrix is a sample for its shape's timing. */
  add(w: CpuTernary): void {
    const key = `${w.rows}x${w.cols}`;
    let list = this.byShape.get(key);
    if (!list) this.byShape.set(key, (list = []));
    list.push(new WeakRef(w));
  }

  /** Before a batch-1 product with `w`: choose its shape's kernel if that has not been done. */
  ensure(w: CpuTernary, time: (w: CpuTernary) => void): void {
    const key = `${w.rows}x${w.cols}`;
    if (this.chosen.has(key)) return;
    if (this.kernels.length === 0) {
      this.chosen.set(key, { shape: key, kernel: this.native.variant(), why: 'only' });
      return;
    }
    if (this.forced >= 0) {
      this.native.setGemv(w.rows, w.cols, this.forced);
      this.chosen.set(key, { shape: key, kernel: this.kernels[this.forced]!, why: 'forced' });
      return;
    }
    const earlier = measuredInProcess.get(`${this.processKey}/${key}/${w.granularity}`);
    const index = earlier ? this.kernels.indexOf(earlier.kernel) : -1;
    if (earlier && index >= 0) {
      this.native.setGemv(w.rows, w.cols, index);
      this.chosen.set(key, { ...earlier, why: 'measured earlier' });
      return;
    }
    const live = (this.byShape.get(key) ?? []).map((r) => r.deref()).filter((m): m is CpuTernary => m !== undefined && m.packed.byteLength > 0 && m.granularity === w.granularity);
    const mats = live.length > 0 ? live.slice(0, MAX_MATRICES) : [w];
    const samples = this.kernels.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++)
      for (let j = 0; j < this.kernels.length; j++) {
        // Rotated order, so no candidate always runs right after the same one.
        const c = (j + round) % this.kernels.length;
        this.native.setGemv(w.rows, w.cols, c);
        for (const m of mats) {
          const t0 = performance.now();
          time(m);
          samples[c]!.push(performance.now() - t0);
        }
      }
    const us = samples.map((s) => lowerQuartile(s) * 1e3);
    let best = 0;
    for (let c = 1; c < us.length; c++) if (us[c]! < us[best]!) best = c;
    this.native.setGemv(w.rows, w.cols, best);
    const choice: GemvChoice = {
      shape: key,
      kernel: this.kernels[best]!,
      why: 'measured',
      microseconds: Object.fromEntries(this.kernels.map((k, i) => [k, Math.round(us[i]! * 10) / 10])),
      matrices: mats.length,
    };
    this.chosen.set(key, choice);
    measuredInProcess.set(`${this.processKey}/${key}/${w.granularity}`, choice);
  }

  /** The choices made so far, one per shape. */
  choices(): GemvChoice[] {
    return [...this.chosen.values()];
  }
}

function lowerQuartile(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 4)]!;
}
