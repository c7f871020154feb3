/**
 * A backend assembled from its plumbing class, a map of op implementations and the limits it declares (the API is
 * described at the top of spec.ts). `withKernels` returns a class whose prototype holds one method per op of the
 * map, each calling `kernels[op](context(this), ...args)`, and a `supports()` that answers from the map and the
 * limits: unsupported is data the backend states.
 */
import { TrineError } from '../errors/index.js';
import { KERNEL_NAMES } from './ops.js';
import type {
  BackendPlumbing,
  FieldLimit,
  Handles,
  HandlesOf,
  KernelBackend,
  KernelMap,
  KernelName,
  Kernels,
  KernelVariant,
  SupportLimits,
  Support,
} from './spec.js';

const OK: Support = { ok: true };

export interface KernelSet<P, C, H extends Handles> {
  /** The backend's kernels; an op left out is unsupported. */
  readonly kernels: KernelMap<C, H>;
  /** Variants of the ops it has that it does not run (e.g. a largest headDim). */
  readonly limits?: SupportLimits;
  /** The context each kernel gets first, read from the backend instance (return the instance to pass it). */
  context(backend: P): C;
}

/** Whether `value` is within `limit` (a numeric field's maximum, or an enumerated field's list). */
function within(limit: FieldLimit<string> | FieldLimit<number>, value: unknown): boolean {
  return 'max' in limit ? typeof value === 'number' && value <= limit.max : (limit.only as readonly unknown[]).includes(value);
}

/**
 * `supports()` of a backend with these kernels and limits: an op without a kernel is unsupported, and so is a
 * variant field value outside the op's limit. Fields the variant leaves out are not asked about.
 */
export function supportFrom(kernels: { readonly [K in KernelName]?: unknown }, limits: SupportLimits = {}): (v: KernelVariant) => Support {
  return (v) => {
    if (!kernels[v.op]) return { ok: false, reason: `no ${v.op} kernel` };
    const opLimits: Readonly<Record<string, FieldLimit<string> | FieldLimit<number> | undefined>> | undefined = limits[v.op];
    if (!opLimits) return OK;
    for (const [field, value] of Object.entries(v)) {
      const limit = opLimits[field];
      if (limit && value !== undefined && !within(limit, value))
        return { ok: false, reason: `${field} ${String(value)}: ${limit.reason}` };
    }
    return OK;
  };
}

/**
 * The backend class: `Plumbing` (storage, uploads, read, lifecycle and whatever else the backend offers) with one
 * prototype method per kernel and `supports()`. An op missing from the map throws UNSUPPORTED when called (the
 * checked wrapper refuses it earlier, from `supports`).
 */
export function withKernels<A extends unknown[], P extends BackendPlumbing, C>(
  Plumbing: new (...args: A) => P,
  set: KernelSet<P, C, HandlesOf<P>>,
): new (...args: A) => P & KernelBackend<HandlesOf<P>> {
  const supports = supportFrom(set.kernels, set.limits);
  const Assembled = class extends (Plumbing as new (...args: A) => BackendPlumbing) {
    supports(v: KernelVariant): Support {
      return supports(v);
    }
  };
  // The methods take the op's arguments as six parameters (MAX_KERNEL_ARITY: attention's count), not a rest array:
  // a kernel call allocates nothing on its way through.
  for (const op of KERNEL_NAMES) {
    // Each op's implementation takes that op's arguments; the loop only forwards them.
    const impl = set.kernels[op] as ((ctx: C, ...args: unknown[]) => void) | undefined;
    Object.defineProperty(Assembled.prototype, op, {
      configurable: true,
      writable: true,
      value: impl
        ? function (this: P, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void {
            impl(set.context(this), a, b, c, d, e, f);
          }
        : function (this: P): never {
            throw new TrineError('UNSUPPORTED', `backend ${this.info.name} has no ${op} kernel`, { field: op });
          },
    });
  }
  // Every KernelBackend member now exists: the plumbing's, supports() above, and one method per KERNEL_NAMES entry.
  return Assembled as new (...args: A) => P & KernelBackend<HandlesOf<P>>;
}

/** Kernels that need no context (plain functions of the op's arguments, as the reference's) as a KernelMap. */
export function withoutContext<H extends Handles>(kernels: {
  readonly [K in KernelName]?: (...args: Parameters<Kernels<H>[K]>) => void;
}): KernelMap<unknown, H> {
  const map: { [K in KernelName]?: (ctx: unknown, ...args: unknown[]) => void } = {};
  for (const op of KERNEL_NAMES) {
    // kernels[op] takes op's own arguments; the wrapper only passes them along.
    const f = kernels[op] as ((...args: unknown[]) => void) | undefined;
    if (f) map[op] = (_ctx, a, b, c, d, e, g) => f(a, b, c, d, e, g);
  }
  return map;
}
