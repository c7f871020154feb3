/**
 * What every kernel (kernels/*.ts) receives first: the command recorder, the program cache, the fusion state and
 * the few device choices the kernels branch on.
 */
import type { GpuContext, Program } from './context.js';
import type { Fusion } from './fusion.js';
import type { ProgramCache } from './programs.js';

export interface KernelContext {
  /** Records dispatches into the step's command encoder. */
  readonly ctx: GpuContext;
  readonly programs: ProgramCache;
  readonly fusion: Fusion;
  /** One invocation per output and no barriers (CPU emulators), instead of 32-lane teams (GPUs). */
  readonly serial: boolean;
  /** Buffers kept across calls (grown, never shrunk). */
  readonly scratch: { lmHead: GPUBuffer | null };
}

/** Outputs per ternary / LM-head workgroup (8 teams of 32 lanes) and the most workgroups per dispatch dimension. */
export const ROWS_PER_GROUP = 8;
export const MAX_GROUPS = 65535;

/** Elementwise dispatch over `count` invocations, folded into 2-D when it exceeds one dimension's limit. */
export function elementwise(g: KernelContext, p: Program, buffers: GPUBuffer[], count: number): void {
  const groups = Math.ceil(count / 256);
  const x = Math.min(groups, MAX_GROUPS);
  const y = Math.ceil(groups / x);
  g.ctx.dispatch(p, buffers, [count, x * 256], [x, y]);
}
