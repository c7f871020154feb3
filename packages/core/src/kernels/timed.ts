/**
 * Wall time per backend call, for benches: `timedBackend(inner, perOp)` wraps a backend so that every kernel and
 * plumbing call (the op table's names, ops.ts) adds its duration (ms) to `perOp` under its name. What a step spends
 * outside these calls is JS (the graph, validation, bookkeeping).
 */
import { KERNEL_NAMES, PLUMBING_NAMES } from './ops.js';
import type { Handles, KernelBackend } from './spec.js';

export function timedBackend<H extends Handles>(inner: KernelBackend<H>, perOp: Map<string, number>): KernelBackend<H> {
  // Reads (info, anything a backend adds) fall through to `inner`; the calls defined below are timed.
  const timed: KernelBackend<H> = Object.create(inner);
  for (const name of [...KERNEL_NAMES, ...PLUMBING_NAMES]) {
    Object.defineProperty(timed, name, {
      value: (...args: unknown[]): unknown => {
        const t0 = performance.now();
        try {
          return Reflect.apply(inner[name], inner, args);
        } finally {
          perOp.set(name, (perOp.get(name) ?? 0) + performance.now() - t0);
        }
      },
    });
  }
  return timed;
}
