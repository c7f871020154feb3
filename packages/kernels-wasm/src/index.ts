/**
 * @trine/kernels-wasm: the WebAssembly SIMD128 kernel backend for Node and browsers.
 *
 *   import { wasmBackendFactory } from '@trine/kernels-wasm';   // name 'wasm', priority 10
 *   const backend = await createWasmBackend({ threads: 2 });
 */
import { type BackendFactory, type BackendOptions, TrineError } from '@trine/core';
import { WasmBackend } from './backend.js';
import type { TernaryLayout } from './handles.js';
import { hostCores, relaxedDotIsCorrect, threadsAvailable } from './detect.js';
import { type Executor, SingleThread } from './executor.js';
import { Heap, MAX_PAGES, PAGE } from './heap.js';
import { compileVariant, instantiate, type ModuleVariant } from './module.js';
import { ThreadPool } from './threads.js';

export { WasmBackend } from './backend.js';
export { WasmBatch, WasmKvCache, WasmMatrix, WasmTensor, WasmTernary, type TernaryLayout, type WasmHandles } from './handles.js';
export { packTernaryLut16, packTernaryRows } from './ternary-pack.js';

export interface WasmBackendOptions extends BackendOptions {
  /**
   * `simd128`, `relaxed-simd` (refused where relaxed SIMD is missing or computes wrongly), or `scalar` (the
   * readable twins of the SIMD kernels). Default: relaxed-simd where it validates, else simd128.
   */
  variant?: string;
  /** Worker threads (default: the host's cores). More than 1 needs SharedArrayBuffer (cross-origin isolation). */
  threads?: number;
  /** Cap on module memory in bytes (default and maximum: 4 GiB, the wasm32 limit). */
  maxMemoryBytes?: number;
  /** Where the .wasm files are served from (default: beside this module). */
  baseUrl?: string | URL;
  /**
   * Ternary weight layout (for tests and benchmarks): `lut16` (table lookup, the default: fastest measured with and
   * without relaxed SIMD) or `w2x64` (2-bit codes × int8 activations; uses the relaxed dot where validated).
   */
  ternaryLayout?: TernaryLayout;
}

const VARIANTS = ['simd128', 'relaxed-simd', 'scalar'] as const;
type Variant = (typeof VARIANTS)[number];

function unavailable(message: string): TrineError {
  return new TrineError('BACKEND_UNAVAILABLE', `wasm backend: ${message}`, { field: 'backend' });
}

/** A memory as large as this host allows: 4 GiB maximum, or less where the engine refuses to reserve it. */
function createMemory(shared: boolean): [WebAssembly.Memory, number] {
  let lastError: unknown;
  for (const maximum of [MAX_PAGES, MAX_PAGES / 2, MAX_PAGES / 4, MAX_PAGES / 16]) {
    try {
      return [new WebAssembly.Memory({ initial: 2, maximum, shared }), maximum];
    } catch (e) {
      lastError = e;
    }
  }
  throw unavailable(`cannot create a WebAssembly.Memory (${(lastError as Error).message})`);
}

export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const requested = options.variant as Variant | undefined;
  if (requested !== undefined && !VARIANTS.includes(requested)) {
    throw unavailable(`unknown variant '${options.variant}' (known: ${VARIANTS.join(', ')})`);
  }
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
    throw new TrineError('INVALID_ARGUMENT', `threads must be a positive integer, got ${options.threads}`, { field: 'threads' });
  }
  const wantThreads = options.threads ?? (await hostCores());
  const mt = threadsAvailable();
  const threaded = wantThreads > 1 && mt.ok;
  const suffix = threaded ? '-mt' : '';

  const details: Record<string, string | number | boolean> = {};
  const simd = await compileVariant(`simd${suffix}` as ModuleVariant, options.baseUrl);
  if (!simd) throw unavailable('this host cannot run WebAssembly SIMD128');

  let module = simd;
  let variant: Variant = requested === 'scalar' ? 'scalar' : 'simd128';
  if (requested === undefined || requested === 'relaxed-simd') {
    const relaxed = await compileVariant(`relaxed${suffix}` as ModuleVariant, options.baseUrl);
    const correct = relaxed !== null && relaxedDotIsCorrect(relaxed, threaded);
    details.relaxedSimd = relaxed === null ? 'unavailable' : correct ? 'validated' : 'rejected (wrong results)';
    if (correct) {
      module = relaxed!;
      variant = 'relaxed-simd';
    } else if (requested === 'relaxed-simd') {
      throw unavailable(`relaxed SIMD is ${details.relaxedSimd} on this host`);
    }
  }
  if (wantThreads > 1 && !threaded) details.threadsFallback = mt.reason;

  const [memory, maximumPages] = createMemory(threaded);
  const maxBytes = maximumPages * PAGE;
  const limit = Math.min(options.maxMemoryBytes ?? maxBytes, maxBytes);
  const heap = new Heap(memory, limit);
  const exports = instantiate(module, memory);
  let executor: Executor = new SingleThread(exports);
  if (threaded) {
    try {
      executor = await ThreadPool.start(module, memory, exports, wantThreads);
    } catch (e) {
      // e.g. a CSP that forbids blob: workers: the shared-memory module still runs on this thread
      details.threadsFallback = (e as Error).message;
    }
  }
  const layout = options.ternaryLayout ?? 'lut16';
  if (layout !== 'lut16' && layout !== 'w2x64') throw unavailable(`unknown ternaryLayout '${String(layout)}'`);
  return new WasmBackend({ heap, exports, executor, variant, layout, details });
}

export const wasmBackendFactory: BackendFactory = {
  name: 'wasm',
  priority: 10,
  create: (options?: BackendOptions) => createWasmBackend(options),
};
