import type { KernelExports, ParallelKernel } from './module.js';

/** Runs a parallel kernel over [0, total): on this thread only, or split across a worker pool (threads.ts). */
export interface Executor {
  readonly threads: number;
  run(kernel: ParallelKernel, args: readonly number[], total: number): void;
  destroy(): void;
}

export class SingleThread implements Executor {
  readonly threads = 1;
  constructor(private readonly exports: KernelExports) {}
  run(kernel: ParallelKernel, args: readonly number[], total: number): void {
    (this.exports[kernel] as (...a: number[]) => void)(...args, 0, 0, total);
  }
  destroy(): void {}
}

/** Thread t's share of [0, total) in `parts` near-equal contiguous pieces. */
export function share(total: number, parts: number, t: number): [number, number] {
  return [Math.floor((total * t) / parts), Math.floor((total * (t + 1)) / parts)];
}
