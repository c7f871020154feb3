/**
 * The reference backend: plain scalar TypeScript over host typed arrays, written from the definitions in
 * kernels/spec.ts. It is the oracle every other backend is checked against, so it favours being obviously right
 * over being fast. Assembled as every backend is (kernels/assemble.ts): the plumbing below (host storage) with the
 * kernels of ./kernels, one per file; it has every op and declares no limits. Construct it synchronously with
 * `createReferenceBackend()`; `referenceBackendFactory` offers it with priority 0 (the backend of last resort).
 */
import { withKernels, withoutContext } from '../kernels/assemble.js';
import { TrineError } from '../errors/index.js';
import type {
  BackendFactory,
  BackendInfo,
  BackendPlumbing,
  DType,
  HostTensor,
  KvCacheSpec,
  MatrixFormat,
  TernaryTensor,
} from '../kernels/spec.js';
import { f16ArrayToF32 } from '../quant/f16.js';
import { decodeTernaryCodes } from '../quant/ternary.js';
import * as kernels from './kernels/index.js';
import { quantizeRowsQ8 } from './q8.js';
import { RefBatch, type RefHandles, RefKvCache, RefMatrix, RefTensor, RefTernary } from './storage.js';

/** Host storage: tensors, matrices and caches are typed arrays the garbage collector frees. */
class ReferencePlumbing implements BackendPlumbing<RefHandles> {
  readonly info: BackendInfo = { name: 'reference', variant: 'scalar', threads: 1 };

  alloc(dtype: DType, shape: readonly number[]): RefTensor {
    return RefTensor.zeros(dtype, shape);
  }
  upload<D extends DType>(host: HostTensor<D>): RefTensor {
    return new RefTensor(host.dtype, [...host.shape], host.data.slice() as HostTensor<D>['data']);
  }
  async read(t: RefTensor, rows?: number): Promise<HostTensor> {
    const r = rows ?? t.shape[0]!;
    const shape = [r, ...t.shape.slice(1)];
    return new RefTensor(t.dtype, shape, t.data.slice(0, r * t.rowSize) as RefTensor['data']);
  }
  uploadTernary(t: TernaryTensor): RefTernary {
    return new RefTernary(t.rows, t.cols, t.granularity, decodeTernaryCodes(t), Float32Array.from(t.scales));
  }
  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): RefMatrix {
    const [rows, cols] = host.shape as [number, number];
    const f32 = (): Float32Array =>
      host.dtype === 'f32' ? (host.data as Float32Array) : f16ArrayToF32(host.data as Uint16Array);
    switch (format) {
      case 'f32':
        return new RefMatrix(rows, cols, 'f32', null, Float32Array.from(f32()), null);
      case 'f16':
        if (host.dtype !== 'f16')
          throw new TrineError('UNSUPPORTED', 'uploadMatrix: an f32 matrix cannot be stored as f16 by the reference', {
            field: 'uploadMatrix.format',
          });
        return new RefMatrix(rows, cols, 'f16', (host.data as Uint16Array).slice(), null, null);
      default:
        return new RefMatrix(rows, cols, 'q8', null, null, quantizeRowsQ8(f32(), rows, cols));
    }
  }
  createKvCache(spec: KvCacheSpec): RefKvCache {
    return new RefKvCache({ ...spec });
  }
  prepareBatch(positions: Int32Array, slots: Int32Array): RefBatch {
    return new RefBatch(positions.slice(), slots.slice());
  }
  dispose(_h: RefTensor | RefTernary | RefMatrix | RefKvCache): void {
    // Host memory: the garbage collector frees it once the model drops its references.
  }
  destroy(): void {}
}

/** The reference kernels need no context: they read and write host storage only. */
export class ReferenceBackend extends withKernels(ReferencePlumbing, {
  kernels: withoutContext<RefHandles>(kernels),
  context: () => undefined,
}) {}

/** The reference backend, synchronously (tests, conformance, per-op fallbacks). */
export function createReferenceBackend(): ReferenceBackend {
  return new ReferenceBackend();
}

export const referenceBackendFactory: BackendFactory = {
  name: 'reference',
  priority: 0,
  async create() {
    return createReferenceBackend();
  },
};
