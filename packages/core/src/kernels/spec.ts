/**
 * The kernel interface: every op the BitNet b1.58 forward pass needs. Backends (reference, cpu, wasm, webgpu)
 * implement `KernelBackend`; the model graph and the conformance kit talk only to this interface.
 *
 * Design (docs/architecture.md has the long form, docs/decisions/op-table.md the why):
 * - A backend owns its storage. Handles are opaque to core except for their descriptors (dtype, shape), so core can
 *   validate every call once (kernels/validate.ts) and a GPU backend can keep a whole decode step on the device.
 * - Destination passing: each op writes into `out`. A forward pass allocates its buffers once (llama2.c's RunState)
 *   and never allocates per token. Per-token tensors are allocated with a row capacity; ops touch the first `rows`.
 * - Ops are synchronous to enqueue. Only `read` is async: it is the one place a GPU backend waits for the device.
 * - Integer math is exact: ternary × int8 accumulators must be bit-identical on every backend
 *   (`ternaryMatmulAcc` exposes them); float results are compared by NMSE with a tolerance each case states.
 *
 * Where each op is declared: its signature here (`Kernels`), its variant fields here (`KernelVariants`), and its
 * validator and how a call picks its variant once, in the op table (kernels/ops.ts `OPS`). `KERNEL_NAMES`, the
 * validating wrapper (`checked`), `timedBackend` and every backend's `supports()` are derived from those; a new op
 * that misses one of them does not compile.
 *
 * A backend = plumbing + a map of op implementations + declared support (kernels/assemble.ts `withKernels`):
 *
 *   class WasmPlumbing implements BackendPlumbing<WasmHandles> { info; alloc; upload; read; … destroy }
 *   // src/kernels/add.ts — one file per op, the reference's file names, the backend's context first:
 *   export function add(c: WasmContext, out: WasmTensor, a: WasmTensor, b: WasmTensor, rows: number): void { … }
 *   // src/kernels/index.ts — the one register file (re-exports; or a `KernelMap<C, H>` object when some kernels
 *   // are wrapped, as WebGPU's settle fusion first):
 *   export { add } from './add.js'; export { argmax } from './argmax.js'; …
 *   // src/backend.ts: withKernels checks each kernel against its op's signature
 *   import * as wasmKernels from './kernels/index.js';
 *   export class WasmBackend extends withKernels(WasmPlumbing, {
 *     kernels: wasmKernels,                            // an op left out is unsupported: "no <op> kernel"
 *     limits: { attention: { headDim: { max: 256, reason: '…' } } },   // variants of present ops it does not run
 *     context: (be) => be.ctx,                         // what each kernel gets first (may be the instance itself)
 *   }) {}
 *
 * The kernels become prototype methods (a subclass may override one, as conformance's broken backends do), and
 * `supports(v)` answers from the map and the limits: it is data the backend states, never a blanket ok.
 */

/** Element types of backend tensors. `f16` holds IEEE half bit patterns on the host (Uint16Array). */
export type DType = 'f32' | 'f16' | 'i32' | 'i8';

export type HostArray<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'f16'
    ? Uint16Array
    : D extends 'i32'
      ? Int32Array
      : Int8Array;

/** A tensor in host memory. Row-major; the last dimension is contiguous. */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: HostArray<D>;
}

/** What core knows about any backend tensor. */
export interface TensorDesc {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

// ---------------------------------------------------------------------------------------------------------------
// Ternary weights
// ---------------------------------------------------------------------------------------------------------------

/** Storage formats of ternary matrices as they arrive from model files (pinned in quant/). */
export type TernaryFormat =
  | 'i2_s' // bitnet.cpp: 2-bit codes, 128-weight blocks of 32 bytes, one f32 scale per tensor
  | 'tq2_0' // llama.cpp: 256-weight blocks of 66 bytes, f16 scale per block
  | 'tq1_0' // llama.cpp: 256-weight blocks of 54 bytes (base-3), f16 scale per block
  | 'codes'; // one int8 in {-1,0,1} per weight, row-major (HF checkpoints, tests)

/** Where a ternary matrix's float scales apply: one for the whole tensor, or one per 256 weights along a row. */
export type ScaleGranularity = 'tensor' | 'block256';

/**
 * A ternary matrix W [rows = out features N, cols = in features K] as read from a file. `data` is the raw bytes in
 * `format`; `scales` are already extracted (length 1 for 'tensor', rows·cols/256 row-major for 'block256').
 * Use quant/ternary.ts `decodeTernaryCodes` to get int8 codes; a backend may instead repack straight from `data`.
 */
export interface TernaryTensor {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly format: TernaryFormat;
  readonly data: Uint8Array;
  readonly granularity: ScaleGranularity;
  readonly scales: Float32Array;
}

/** What core knows about a backend's uploaded ternary matrix. */
export interface TernaryDesc {
  readonly rows: number;
  readonly cols: number;
  readonly granularity: ScaleGranularity;
}

// ---------------------------------------------------------------------------------------------------------------
// Activation quantization (W1.58A8)
// ---------------------------------------------------------------------------------------------------------------

/**
 * - `per_token` (bitnet.cpp, I2_S): per row, s = 127 / max(max|x|, 1e-5) (max in f64, s stored as f32),
 *   q = clamp(roundHalfEven(f32(x·s)), -128, 127). Float epilogue: y = f32(f32(acc / s) · w_scale).
 * - `per_block256` (llama.cpp Q8_K, TQ1_0/TQ2_0): per 256 elements, m = the element of largest magnitude (signed),
 *   iscale = f32(-127 / m), q = min(127, roundHalfEven(f32(iscale·x))), d = f32(1 / iscale) (d = 0, q = 0 when m = 0).
 *   Float epilogue: y = Σ_g f32(acc_g · f32(d_w,g · d_a,g)), summed in f32 in block order.
 */
export type ActQuantScheme = 'per_token' | 'per_block256';

/** Quantized activations: int8 values [cap, K] and scales [cap, G] (G = 1 per_token, K/256 per_block256). */
export interface QuantizedActs<T extends TensorDesc> {
  readonly scheme: ActQuantScheme;
  readonly q: T;
  readonly scales: T;
}

/** Number of integer accumulator groups per output: 1 for (per_token, tensor), K/256 for (per_block256, block256). */
export function accumulatorGroups(scheme: ActQuantScheme, cols: number): number {
  return scheme === 'per_token' ? 1 : cols / 256;
}

// ---------------------------------------------------------------------------------------------------------------
// Output matrix, KV cache, batch
// ---------------------------------------------------------------------------------------------------------------

/**
 * The embedding / LM-head matrix [vocab, hidden]. Uploaded from f16 or f32; `q8` asks the backend to quantize it
 * at load (per-row int8 with an f32 scale: out = Σ q·x_f16 · scale) for the opt-in 8-bit output path.
 */
export type MatrixFormat = 'f32' | 'f16' | 'q8';
export interface MatrixDesc {
  readonly rows: number;
  readonly cols: number;
  readonly format: MatrixFormat;
}

export interface KvCacheSpec {
  readonly layers: number;
  /** Independent sequences the cache holds (batched decode uses one slot per sequence). */
  readonly slots: number;
  /** Positions per slot (context length). */
  readonly context: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** f16 matches llama.cpp / bitnet.cpp (K and V rounded to half when stored). */
  readonly dtype: 'f16' | 'f32';
}
export interface KvCacheDesc {
  readonly spec: KvCacheSpec;
}

/**
 * The tokens of one forward step: token i sits in KV slot `slots[i]` at position `positions[i]`. Prefill is n
 * tokens of one slot at increasing positions; batched decode is one token for each of n slots.
 */
export interface BatchDesc {
  readonly n: number;
  readonly positions: Int32Array;
  readonly slots: Int32Array;
}

export interface AttentionParams {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Multiplies Q·K before softmax (1/sqrt(headDim)). */
  readonly scale: number;
  /**
   * Round softmax probabilities to f16 before they multiply V (llama.cpp does with an f16 cache; bitnet.cpp only
   * for single-token batches). Q is rounded to f16 whenever the cache is f16.
   */
  readonly roundProbsF16: boolean;
}

export interface RopeParams {
  /** Rotated dimensions per head (NEOX "rotate half" pairing: i with i + ropeDim/2). */
  readonly ropeDim: number;
  readonly headDim: number;
  readonly theta: number;
}

export type GateActivation = 'relu2' | 'silu';

// ---------------------------------------------------------------------------------------------------------------
// The kernels
// ---------------------------------------------------------------------------------------------------------------

/** The handle types a backend chooses for its storage. */
export interface Handles {
  tensor: TensorDesc;
  ternary: TernaryDesc;
  matrix: MatrixDesc;
  kv: KvCacheDesc;
  batch: BatchDesc;
}

/**
 * Every op, by name. Shapes use: n = rows (tokens this step), D = hidden, K = in features, N = out features,
 * H = query heads, Hkv = KV heads, Dh = head dim, V = vocab. "out may alias x" is stated where allowed.
 */
export interface Kernels<H extends Handles = Handles> {
  /** out[i,:] = f32(table[ids[i],:]). out f32 [≥n, D]; n = ids.length. */
  embedding(out: H['tensor'], table: H['matrix'], ids: Int32Array): void;
  /** out = x / sqrt(mean(x²) + eps) · weight, per row, in f32. x,out f32 [≥rows, D]; weight f32 [D]. out may alias x. */
  rmsNorm(out: H['tensor'], x: H['tensor'], weight: H['tensor'], eps: number, rows: number): void;
  /** out = a + b (residual). f32 [≥rows, D]. out may alias a or b. */
  add(out: H['tensor'], a: H['tensor'], b: H['tensor'], rows: number): void;
  /** Quantize x f32 [≥rows, K] into out (scheme from out.scheme); see ActQuantScheme. */
  quantizeActs(out: QuantizedActs<H['tensor']>, x: H['tensor'], rows: number): void;
  /** out f32 [≥rows, N] = epilogue(Σ_k w[n,k]·q[r,k]) — the BitLinear product. */
  ternaryMatmul(out: H['tensor'], a: QuantizedActs<H['tensor']>, w: H['ternary'], rows: number): void;
  /** out i32 [≥rows, N, G] = the raw integer accumulators (G = accumulatorGroups). For conformance and debugging. */
  ternaryMatmulAcc(out: H['tensor'], a: QuantizedActs<H['tensor']>, w: H['ternary'], rows: number): void;
  /** In place: rotate x f32 [≥n, heads, headDim] by each token's position (batch.positions), NEOX pairing. */
  rope(x: H['tensor'], heads: number, batch: H['batch'], p: RopeParams): void;
  /** Store k, v f32 [≥n, Hkv, Dh] into the cache at (layer, batch.slots[i], batch.positions[i]). */
  kvStore(cache: H['kv'], layer: number, k: H['tensor'], v: H['tensor'], batch: H['batch']): void;
  /**
   * Causal grouped-query attention: for token i, query head h attends to positions 0..positions[i] of slot
   * slots[i], KV head h / (H/Hkv). q f32 [≥n, H, Dh] → out f32 [≥n, H·Dh].
   */
  attention(out: H['tensor'], q: H['tensor'], cache: H['kv'], layer: number, batch: H['batch'], p: AttentionParams): void;
  /** out = act(gate) · up, act ∈ {relu(x)², silu(x)}. f32 [≥rows, F]. out may alias gate. */
  gatedActivation(out: H['tensor'], gate: H['tensor'], up: H['tensor'], act: GateActivation, rows: number): void;
  /**
   * Logits for selected rows: out[i,:] = matrix · x[select[i],:]. x is rounded to f16 first when the matrix is
   * f16 or q8 (as llama.cpp does). out f32 [≥select.length, V].
   */
  lmHead(out: H['tensor'], x: H['tensor'], matrix: H['matrix'], select: Int32Array): void;
  /** out i32 [≥rows] = index of the first maximum of each logits row (greedy sampling without reading logits back). */
  argmax(out: H['tensor'], logits: H['tensor'], rows: number): void;
}

export type KernelName = keyof Kernels;

/**
 * The fields that pick a variant of an op, for the ops that have variants (the rest have one). A call's variant is
 * read from its arguments by the op table (ops.ts); a backend that does not run some values says so in its
 * `SupportLimits`. `headDim` is a number: a backend states the largest it runs.
 */
export interface KernelVariants {
  embedding: { format: MatrixFormat };
  quantizeActs: { scheme: ActQuantScheme };
  ternaryMatmul: { scheme: ActQuantScheme };
  ternaryMatmulAcc: { scheme: ActQuantScheme };
  kvStore: { dtype: KvCacheSpec['dtype']; headDim: number };
  attention: { dtype: KvCacheSpec['dtype']; headDim: number };
  gatedActivation: { act: GateActivation };
  lmHead: { format: MatrixFormat };
}

/** The variant fields of op K (none for single-variant ops). */
export type VariantFieldsOf<K extends KernelName> = K extends keyof KernelVariants ? KernelVariants[K] : Record<never, never>;

/**
 * A variant of an op a backend may or may not support. Fields left out mean "any": `{ op: 'lmHead' }` asks whether
 * the backend has an LM head at all, `{ op: 'attention', dtype: 'f16' }` whether it runs an f16 cache at some headDim.
 */
export type KernelVariant = { [K in KernelName]: { readonly op: K } & Readonly<Partial<VariantFieldsOf<K>>> }[KernelName];

export type Support = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface BackendInfo {
  /** `reference` | `cpu` | `wasm` | `webgpu`. */
  readonly name: string;
  /** The code path in use, e.g. `avx512vnni`, `avx2`, `scalar`, `simd128`, `dawn:vulkan:swiftshader`. */
  readonly variant: string;
  readonly threads: number;
  /** Anything else worth logging (adapter name, features). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * A kernel backend: storage plus kernels. Handles from one backend must never be passed to another.
 */
export interface KernelBackend<H extends Handles = Handles> extends Kernels<H> {
  readonly info: BackendInfo;
  /** Whether this backend runs an op (variant). Unsupported is data, reported in the conformance table. */
  supports(v: KernelVariant): Support;

  /** A zero-filled tensor. */
  alloc(dtype: DType, shape: readonly number[]): H['tensor'];
  upload<D extends DType>(host: HostTensor<D>): H['tensor'];
  /** Copy back the first `rows` rows (all rows when omitted). The only async call: it waits for the device. */
  read(t: H['tensor'], rows?: number): Promise<HostTensor>;
  /** Repack a ternary matrix into the backend's own layout. The caller may drop `t.data` afterwards. */
  uploadTernary(t: TernaryTensor): H['ternary'];
  /**
   * Optional: `bytes` of host memory that `uploadMatrix` adopts without a copy when the matrix stays in the host's
   * dtype (the CPU backend's is 64-byte aligned and on huge pages: the LM head is streamed whole every token).
   */
  hostMemory?(bytes: number): Uint8Array;
  /**
   * Optional: what the backend chose by measuring on this host so far, a line each (the CPU backend's batch-1
   * kernel per matrix shape, with the timings): for `trine info` and bench reports.
   */
  tuning?(): readonly string[];
  /** Upload an embedding / LM-head matrix (host f16 or f32), optionally quantized to `q8` at load. */
  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): H['matrix'];
  createKvCache(spec: KvCacheSpec): H['kv'];
  /** Describe one step's tokens (uploaded once, used by every layer's rope / kvStore / attention). */
  prepareBatch(positions: Int32Array, slots: Int32Array): H['batch'];
  /** Free device memory held by a handle. Handles are unusable afterwards. */
  dispose(h: H['tensor'] | H['ternary'] | H['matrix'] | H['kv']): void;
  /** Release everything (device, threads). */
  destroy(): void;
}

/** How a backend package offers itself to the registry. */
export interface BackendFactory {
  readonly name: string;
  /** Higher is preferred when a host can run several (webgpu 30, cpu 20, wasm 10, reference 0). */
  readonly priority: number;
  /** Throws a TrineError('BACKEND_UNAVAILABLE') naming why this host cannot run it. */
  create(options?: BackendOptions): Promise<KernelBackend>;
}

export interface BackendOptions {
  /** Worker threads for CPU / WASM backends (default: physical cores). */
  threads?: number;
  /** Force a code path (`scalar`, `avx2`, `avx512`, `neon` …); the backend refuses a path the host cannot run. */
  variant?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Assembling a backend from plumbing, kernels and declared support (kernels/assemble.ts)
// ---------------------------------------------------------------------------------------------------------------

/** Everything a backend has besides its kernels and `supports()`: storage, uploads, read, lifecycle. */
export type BackendPlumbing<H extends Handles = Handles> = Omit<KernelBackend<H>, KernelName | 'supports'>;

/** The handle types a plumbing object produces (so a backend's kernels are typed by its own handles). */
export interface HandlesOf<P extends BackendPlumbing> {
  tensor: ReturnType<P['alloc']>;
  ternary: ReturnType<P['uploadTernary']>;
  matrix: ReturnType<P['uploadMatrix']>;
  kv: ReturnType<P['createKvCache']>;
  batch: ReturnType<P['prepareBatch']>;
}

/** One op's implementation in a backend: the op's arguments after the backend's kernel context `C`. */
export type KernelImpl<C, H extends Handles, K extends KernelName> = (ctx: C, ...args: Parameters<Kernels<H>[K]>) => void;

/** A backend's kernels by op. An op left out is unsupported (`supports` says the backend has no such kernel). */
export type KernelMap<C, H extends Handles> = { readonly [K in KernelName]?: KernelImpl<C, H, K> };

/** What a backend runs of one variant field: the values of an enumerated field, the largest of a numeric one. */
export type FieldLimit<V> = [V] extends [number]
  ? { readonly max: number; readonly reason: string }
  : { readonly only: readonly V[]; readonly reason: string };

/** Per op and variant field, what a backend runs where that is less than every value. */
export type SupportLimits = {
  readonly [K in KernelName]?: { readonly [F in keyof VariantFieldsOf<K>]?: FieldLimit<VariantFieldsOf<K>[F]> };
};
