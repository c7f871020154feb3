/**
 * What every wasm kernel (kernels/*.ts) receives first: the module's memory and exports, the executor that splits
 * parallel kernels over threads, and the reusable scratch areas kernels stage their inputs in.
 */
import { TrineError } from '@trine/core';
import type { Executor } from './executor.js';
import type { WasmTensor } from './handles.js';
import type { Heap } from './heap.js';
import type { KernelExports } from './module.js';

/** The activations whose lookup tables sit in the 'lut-tables' scratch (kernels/ternary-acts.ts). */
export interface LutCache {
  readonly q: WasmTensor;
  readonly version: number;
  readonly rows: number;
  readonly K: number;
  readonly Kp: number;
  readonly act: number;
  readonly tables: number;
}

export function gone(what: string): never {
  throw new TrineError('INVALID_ARGUMENT', `wasm backend: ${what} was disposed`, { field: what });
}

export class WasmContext {
  /** The activations whose lookup tables are built (q, k, v and gate, up read the same ones). */
  lutCache: LutCache | null = null;
  private readonly scratch = new Map<string, { ptr: number; bytes: number }>();

  constructor(
    readonly heap: Heap,
    readonly x: KernelExports,
    readonly exec: Executor,
    /** 1: run the readable scalar twins of the SIMD kernels. */
    readonly scalar: 0 | 1,
  ) {}

  /** A reusable scratch area of at least `bytes` (grown by reallocation; contents not preserved). */
  area(name: string, bytes: number): number {
    const cur = this.scratch.get(name);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.heap.release(cur.ptr, cur.bytes);
    if (name === 'act' || name === 'lut-tables') this.lutCache = null;
    const size = Math.max(bytes, 256);
    const ptr = this.heap.alloc(size, `scratch ${name}`);
    this.scratch.set(name, { ptr, bytes: size });
    return ptr;
  }

  /** `values` copied into the scratch area `name`; returns its address. */
  ints(name: string, values: Int32Array): number {
    const ptr = this.area(name, values.length * 4);
    new Int32Array(this.heap.buffer, ptr, values.length).set(values);
    return ptr;
  }
}
