import type { DType, HostArray, HostTensor, KernelBackend, KvCacheSpec, MatrixFormat, TensorDesc, TernaryTensor } from '@trine/core';
import type { CaseOutput, Check, ConformanceCase, PreparedCase } from './types.js';

/** Everything a case uploads to one backend, so `dispose` frees it all. */
export class Uploads {
  private readonly handles: Parameters<KernelBackend['dispose']>[0][] = [];
  constructor(readonly b: KernelBackend) {}

  /** Uploads a copy, so a backend that keeps (and an in-place op that writes) the host array cannot change the
   *  inputs the next backend receives. */
  tensor<D extends DType>(dtype: D, shape: readonly number[], data: HostArray<D>): TensorDesc {
    return this.keep(this.b.upload({ dtype, shape, data: data.slice() } as HostTensor<D>));
  }
  alloc(dtype: DType, shape: readonly number[]): TensorDesc {
    return this.keep(this.b.alloc(dtype, shape));
  }
  ternary(t: TernaryTensor) {
    return this.keep(this.b.uploadTernary(t));
  }
  matrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat) {
    return this.keep(this.b.uploadMatrix({ ...host, data: host.data.slice() } as HostTensor<'f16' | 'f32'>, format));
  }
  kv(spec: KvCacheSpec) {
    return this.keep(this.b.createKvCache(spec));
  }
  dispose(): void {
    for (const h of this.handles.splice(0).reverse()) this.b.dispose(h);
  }
  private keep<T extends Parameters<KernelBackend['dispose']>[0]>(h: T): T {
    this.handles.push(h);
    return h;
  }
}

let memoKey: string | undefined;
let memoValue: unknown;
/**
 * Host inputs built once per case and reused for the second backend (the backend under test, then the reference):
 * building large random inputs costs more than the reference's op. One entry, so memory does not grow with the kit.
 */
export function memoInputs<T>(key: string, build: () => T): T {
  if (memoKey !== key) {
    memoValue = build();
    memoKey = key;
  }
  return memoValue as T;
}

/** A tensor to read back after the run, and how to judge it. */
export interface Readback {
  readonly name: string;
  readonly tensor: TensorDesc;
  readonly check: Check;
  /** Rows to read (all when omitted: then rows an op must not touch are compared too). */
  readonly rows?: number;
}

/**
 * The common shape of an op case: upload inputs, return the op call and what to read back. `sync` reads the first
 * read-back tensor, which waits for the device on asynchronous backends.
 */
export function opCase(
  def: Omit<ConformanceCase, 'prepare'> & {
    setup(u: Uploads): { run: () => void; read: readonly Readback[] } | Promise<{ run: () => void; read: readonly Readback[] }>;
  },
): ConformanceCase {
  const { setup, ...rest } = def;
  return {
    ...rest,
    async prepare(b: KernelBackend): Promise<PreparedCase> {
      const u = new Uploads(b);
      try {
        const { run, read } = await setup(u);
        return {
          run,
          async outputs(): Promise<CaseOutput[]> {
            const out: CaseOutput[] = [];
            for (const r of read) {
              const host = await b.read(r.tensor, r.rows);
              const shape = host.shape;
              out.push({ name: r.name, data: host.data, check: r.check, rowLength: shape.length > 1 ? rowLength(shape) : undefined });
            }
            return out;
          },
          async sync() {
            const first = read[0];
            if (first) await b.read(first.tensor, 1);
          },
          dispose: () => u.dispose(),
        };
      } catch (e) {
        u.dispose();
        throw e;
      }
    },
  };
}

function rowLength(shape: readonly number[]): number {
  let n = 1;
  for (let i = 1; i < shape.length; i++) n *= shape[i]!;
  return n;
}

export const EXACT: Check = { kind: 'exact' };
export function nmseAtMost(max: number): Check {
  return { kind: 'nmse', max };
}
