/**
 * Deferred-fusion state. An rmsNorm is not recorded at once: when the next op quantizes its output (per_token), both
 * run as one dispatch (rms_norm_quantize); a rope waits for a rope of another tensor over the same batch and
 * parameters, and both run as one dispatch. Any other op records what is pending first (`settle`), so the order of
 * effects never changes — kernels/index.ts wraps every op that does not fuse with `settle`.
 */
import type { RopeParams } from '@trine/core';
import type { GpuBatch, GpuTensor } from './handles.js';

export interface PendingNorm {
  readonly out: GpuTensor;
  readonly x: GpuTensor;
  readonly weight: GpuTensor;
  readonly eps: number;
  readonly rows: number;
}

export interface PendingRope {
  readonly x: GpuTensor;
  readonly heads: number;
  readonly batch: GpuBatch;
  readonly p: RopeParams;
}

/** How a pending op is recorded on its own (kernels/rms-norm.ts, kernels/rope.ts). */
export interface Recorders {
  norm(n: PendingNorm): void;
  rope(r: PendingRope): void;
}

export class Fusion {
  norm: PendingNorm | null = null;
  rope: PendingRope | null = null;

  /** @param enabled false records every op as its own dispatch (gpu-check compares both). */
  constructor(
    public enabled: boolean,
    private readonly record: Recorders,
  ) {}

  /** Record whatever is pending, rope first (the order the ops were called in a layer). */
  settle(): void {
    const r = this.rope;
    if (r) {
      this.rope = null;
      this.record.rope(r);
    }
    const n = this.norm;
    if (n) {
      this.norm = null;
      this.record.norm(n);
    }
  }
}
