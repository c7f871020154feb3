/**
 * Validation of every backend call, written once for all backends and derived from the op table (ops.ts).
 * `checked(backend)` wraps a backend so each call is validated, then dispatched; a bad call throws
 * TrineError('INVALID_ARGUMENT') naming the op and the argument (`field` = `op.arg`). A variant the backend does not
 * support throws 'UNSUPPORTED' (asked of `supports()` once per distinct variant). Hot loops that have validated
 * their shapes once can set `enabled = false` (or use `.inner`).
 */
import { TrineError } from '../errors/index.js';
import { KERNEL_NAMES, OPS, PLUMBING_CHECKS, PLUMBING_NAMES } from './ops.js';
import type { BackendInfo, BackendPlumbing, Handles, KernelBackend, KernelName, Kernels, KernelVariant, Support } from './spec.js';

export function variantKey(v: KernelVariant): string {
  return Object.entries(v)
    .map(([k, x]) => `${k}=${String(x)}`)
    .join(',');
}

/** The members the loops below install on CheckedBackend's prototype: every kernel and every checked plumbing call. */
export interface CheckedBackend<H extends Handles> extends Kernels<H>, Omit<BackendPlumbing<H>, 'info' | 'dispose' | 'destroy'> {}

/** A backend wrapped so every call is validated before it runs. */
export class CheckedBackend<H extends Handles> implements KernelBackend<H> {
  /** Set false to skip validation (hot loops whose shapes were validated once). */
  enabled = true;
  /** op → the variants (field values) the backend said it supports. Looked up on every kernel call, so they are
   *  compared by value instead of building a key string (building one took ~15 % of a tiny model's generation time). */
  private readonly approved = new Map<KernelName, Readonly<Record<string, unknown>>[]>();

  constructor(readonly inner: KernelBackend<H>) {}

  get info(): BackendInfo {
    return this.inner.info;
  }

  supports(v: KernelVariant): Support {
    return this.inner.supports(v);
  }

  /** The inner backend's host memory, when it has any (nothing to validate: a size the loader computed). */
  get hostMemory(): ((bytes: number) => Uint8Array) | undefined {
    const inner = this.inner;
    return inner.hostMemory ? (bytes: number) => inner.hostMemory!(bytes) : undefined;
  }

  dispose(h: H['tensor'] | H['ternary'] | H['matrix'] | H['kv']): void {
    this.inner.dispose(h);
  }

  destroy(): void {
    this.inner.destroy();
  }

  /** Throws UNSUPPORTED unless the backend runs `op` with these variant field values. */
  need(op: KernelName, fields: Readonly<Record<string, unknown>>): void {
    const seen = this.approved.get(op);
    if (seen) for (let i = 0; i < seen.length; i++) if (sameFields(seen[i]!, fields)) return;
    // The table's variant reader returns op K's fields, so { op, ...fields } is a KernelVariant of op K.
    const v = { op, ...fields } as KernelVariant;
    const s = this.inner.supports(v);
    if (!s.ok)
      throw new TrineError('UNSUPPORTED', `${op}: backend ${this.inner.info.name} does not support ${variantKey(v)}: ${s.reason}`, {
        field: op,
      });
    if (seen) seen.push(fields);
    else this.approved.set(op, [fields]);
  }
}

/** Whether two variants of one op (the same fields, read by the op table) have the same values. */
function sameFields(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  for (const k in a) if (a[k] !== b[k]) return false;
  return true;
}

type Loose = (...args: unknown[]) => unknown;
// Six parameters (MAX_KERNEL_ARITY), not a rest array: a checked kernel call allocates nothing but a new variant.
for (const op of KERNEL_NAMES) {
  // OPS[op] takes op's own arguments; here they are only passed along, so the table is read loosely.
  const { validate, variant } = OPS[op] as { validate: Loose; variant?: (...args: unknown[]) => Readonly<Record<string, unknown>> };
  Object.defineProperty(CheckedBackend.prototype, op, {
    configurable: true,
    writable: true,
    value: function (this: CheckedBackend<Handles>, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void {
      if (this.enabled) {
        validate(a, b, c, d, e, f);
        if (variant) this.need(op, variant(a, b, c, d, e, f));
      }
      (this.inner[op] as Loose).call(this.inner, a, b, c, d, e, f);
    },
  });
}

for (const name of PLUMBING_NAMES) {
  const check = PLUMBING_CHECKS[name] as ((...args: unknown[]) => void) | null;
  if (!check) continue; // dispose and destroy are the class's own
  Object.defineProperty(CheckedBackend.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: CheckedBackend<Handles>, ...args: unknown[]): unknown {
      if (this.enabled) check(...args);
      return Reflect.apply(this.inner[name], this.inner, args);
    },
  });
}

/** Wrap `backend` so every call is validated (idempotent: a checked backend is returned as is). */
export function checked<H extends Handles>(backend: KernelBackend<H>): CheckedBackend<H> {
  return backend instanceof CheckedBackend ? backend : new CheckedBackend(backend);
}
