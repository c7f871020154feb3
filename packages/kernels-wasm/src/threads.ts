import type { Executor } from './executor.js';
import type { KernelExports } from './module.js';

/** Placeholder until the worker pool lands: never started because threads default to 1. */
export class ThreadPool {
  static async start(_m: WebAssembly.Module, _mem: WebAssembly.Memory, _x: KernelExports, _n: number): Promise<Executor> {
    throw new Error('threads not implemented yet');
  }
}
