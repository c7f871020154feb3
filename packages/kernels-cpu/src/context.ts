/**
 * What every kernel (kernels/*.ts) receives first: the native backend (kernel table + thread pool) and the set of
 * handles this backend created, so a handle from another backend is refused before the addon indexes it.
 */
import { TrineError } from '@trine/core';
import type { NativeBackend } from './native.js';
import { GemvTuner } from './tune.js';

/** The addon's codes for an activation scheme and a matrix format (native/glue/args.h). */
export const SCHEME = { per_token: 0, per_block256: 1 } as const;
export const FORMAT = { f32: 0, f16: 1, q8: 2 } as const;

export class CpuContext {
  private readonly owned = new WeakSet<object>();
  /** The batch-1 ternary kernel per shape, measured on this backend's matrices (tune.ts). */
  readonly gemv: GemvTuner;

  constructor(private backend: NativeBackend | null, gemv?: string) {
    this.gemv = new GemvTuner(this.native, gemv);
  }

  get native(): NativeBackend {
    if (!this.backend) throw new TrineError('INVALID_ARGUMENT', 'cpu backend: used after destroy()', { field: 'backend' });
    return this.backend;
  }

  /** Handles from another backend (or a disposed one) would index memory this backend does not own. */
  mine<T extends object>(h: T, what: string): T {
    if (!this.owned.has(h))
      throw new TrineError('INVALID_ARGUMENT', `cpu backend: ${what} was not created by this backend (or was disposed)`, {
        field: what,
      });
    return h;
  }

  track<T extends object>(h: T): T {
    this.owned.add(h);
    return h;
  }

  /** Forget a handle; false when it was not this backend's (or already released). */
  release(h: object): boolean {
    return this.owned.delete(h);
  }

  destroy(): void {
    this.backend?.destroy();
    this.backend = null;
  }
}
