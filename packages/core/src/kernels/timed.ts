/**
 * Wall time per kernel op, for benches: `timedBackend(inner, perOp)` wraps a backend so that every method call adds
 * its duration (ms) to `perOp` under the method's name. What a step spends outside these calls is JS (the graph,
 * validation, bookkeeping).
 */
import type { Handles, KernelBackend } from './spec.js';

export function timedBackend<H extends Handles>(inner: KernelBackend<H>, perOp: Map<string, number>): KernelBackend<H> {
  return new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      return (...a: unknown[]) => {
        const t0 = performance.now();
        try {
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        } finally {
          perOp.set(String(prop), (perOp.get(String(prop)) ?? 0) + performance.now() - t0);
        }
      };
    },
  });
}
