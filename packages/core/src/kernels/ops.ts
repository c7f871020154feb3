/**
 * The op table: every kernel op once, with its validator and how a call's arguments pick its variant. Its
 * signature and variant fields are in spec.ts (`Kernels`, `KernelVariants`); everything that lists ops is derived
 * from this table: `KERNEL_NAMES`, the validating wrapper (validate.ts), `timedBackend` (timed.ts) and
 * `supports()` of assembled backends (assemble.ts). Besides the kernels, `PLUMBING_CHECKS` validates the storage
 * calls (alloc, upload, …) the same way.
 *
 * A validator throws TrineError('INVALID_ARGUMENT') naming the op and the argument (`field` = `op.arg`). Checks are
 * O(1) per call except for index arrays (ids, select, positions, slots), which are scanned once.
 */
import { TrineError } from '../errors/index.js';
import {
  accumulatorGroups,
  type AttentionParams,
  type BackendPlumbing,
  type DType,
  type GateActivation,
  type Handles,
  type HostTensor,
  type KernelName,
  type Kernels,
  type KernelVariants,
  type KvCacheSpec,
  type MatrixFormat,
  type QuantizedActs,
  type RopeParams,
  type TensorDesc,
  type TernaryTensor,
} from './spec.js';

const DTYPES: readonly DType[] = ['f32', 'f16', 'i32', 'i8'];
const MATRIX_FORMATS: readonly MatrixFormat[] = ['f32', 'f16', 'q8'];
const ACTIVATIONS: readonly GateActivation[] = ['relu2', 'silu'];
/** Largest element count of one tensor (2^31 − 1: typed arrays and WebGPU bindings both stay in range). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

function bad(op: string, arg: string, problem: string): never {
  throw new TrineError('INVALID_ARGUMENT', `${op}: ${arg} ${problem}`, { field: `${op}.${arg}` });
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

function rowWidth(t: TensorDesc): number {
  let w = 1;
  for (let i = 1; i < t.shape.length; i++) w *= t.shape[i]!;
  return w;
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * A tensor argument: dtype, rank ≥ 2 (or exactly `rank`), row capacity ≥ rows, and row width `width` when given.
 * Returns the row width.
 */
function rowsTensor(op: string, arg: string, t: TensorDesc | undefined, dtype: DType, rows: number, width?: number): number {
  if (!t || typeof t !== 'object' || !Array.isArray(t.shape)) bad(op, arg, 'is not a tensor');
  if (t.dtype !== dtype) bad(op, arg, `must be ${dtype}, got ${t.dtype}`);
  if (t.shape.length < 1) bad(op, arg, 'must have at least one dimension');
  if (t.shape[0]! < rows) bad(op, arg, `holds ${t.shape[0]} rows ${shapeStr(t.shape)}, needs ${rows}`);
  const w = rowWidth(t);
  if (width !== undefined && w !== width) bad(op, arg, `rows must hold ${width} elements, shape is ${shapeStr(t.shape)}`);
  return w;
}

function countArg(op: string, arg: string, n: unknown): number {
  if (!isCount(n)) bad(op, arg, `must be a non-negative integer, got ${String(n)}`);
  return n;
}

function indexArray(op: string, arg: string, a: unknown, limit: number, limitName: string): Int32Array {
  if (!(a instanceof Int32Array)) bad(op, arg, 'must be an Int32Array');
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < 0 || v >= limit) bad(op, `${arg}[${i}]`, `= ${v} is outside [0, ${limit}) (${limitName})`);
  }
  return a;
}

function quantized(op: string, arg: string, a: QuantizedActs<TensorDesc> | undefined, rows: number): number {
  if (!a || typeof a !== 'object') bad(op, arg, 'is not QuantizedActs');
  if (a.scheme !== 'per_token' && a.scheme !== 'per_block256') bad(op, `${arg}.scheme`, `is not a scheme: ${String(a.scheme)}`);
  const K = rowsTensor(op, `${arg}.q`, a.q, 'i8', rows);
  if (a.scheme === 'per_block256' && K % 256 !== 0) bad(op, `${arg}.q`, `width ${K} must be a multiple of 256 for per_block256`);
  rowsTensor(op, `${arg}.scales`, a.scales, 'f32', rows, accumulatorGroups(a.scheme, K));
  return K;
}

function batchArg(op: string, b: Handles['batch'] | undefined): Handles['batch'] {
  if (!b || !(b.positions instanceof Int32Array) || !(b.slots instanceof Int32Array)) bad(op, 'batch', 'is not a batch');
  if (b.n !== b.positions.length || b.n !== b.slots.length) bad(op, 'batch', 'n, positions and slots disagree');
  return b;
}

function heads(op: string, p: { heads?: number; kvHeads?: number; headDim: number }): void {
  if (!isCount(p.headDim) || p.headDim === 0) bad(op, 'p.headDim', `must be a positive integer, got ${p.headDim}`);
}


// ---------------------------------------------------------------------------------------------------------------
// The op table
// ---------------------------------------------------------------------------------------------------------------

/** One op: its validator, and (for ops with variants) the variant fields a call's arguments select. */
export type OpDef<K extends KernelName> = {
  readonly validate: (...args: Parameters<Kernels[K]>) => void;
} & (K extends keyof KernelVariants
  ? { readonly variant: (...args: Parameters<Kernels[K]>) => KernelVariants[K] }
  : { readonly variant?: undefined });

export const OPS: { readonly [K in KernelName]: OpDef<K> } = {
  embedding: {
    validate(out: TensorDesc, table: Handles['matrix'], ids: Int32Array): void {
      if (!table || !isCount(table.rows) || !isCount(table.cols)) bad('embedding', 'table', 'is not a matrix');
      indexArray('embedding', 'ids', ids, table.rows, 'table rows');
      rowsTensor('embedding', 'out', out, 'f32', ids.length, table.cols);
    },
    variant: (_out, table) => ({ format: table.format }),
  },
  rmsNorm: {
    validate(out: TensorDesc, x: TensorDesc, weight: TensorDesc, eps: number, rows: number): void {
      countArg('rmsNorm', 'rows', rows);
      if (!weight || weight.dtype !== 'f32' || weight.shape.length !== 1) bad('rmsNorm', 'weight', 'must be f32 [D]');
      const D = weight.shape[0]!;
      rowsTensor('rmsNorm', 'x', x, 'f32', rows, D);
      rowsTensor('rmsNorm', 'out', out, 'f32', rows, D);
      if (!(typeof eps === 'number' && eps >= 0 && Number.isFinite(eps))) bad('rmsNorm', 'eps', `must be finite and ≥ 0, got ${eps}`);
    },
  },
  add: {
    validate(out: TensorDesc, a: TensorDesc, b: TensorDesc, rows: number): void {
      countArg('add', 'rows', rows);
      const D = rowsTensor('add', 'out', out, 'f32', rows);
      rowsTensor('add', 'a', a, 'f32', rows, D);
      rowsTensor('add', 'b', b, 'f32', rows, D);
    },
  },
  quantizeActs: {
    validate(out: QuantizedActs<TensorDesc>, x: TensorDesc, rows: number): void {
      countArg('quantizeActs', 'rows', rows);
      const K = quantized('quantizeActs', 'out', out, rows);
      rowsTensor('quantizeActs', 'x', x, 'f32', rows, K);
    },
    variant: (out) => ({ scheme: out.scheme }),
  },
  ternaryMatmul: {
    validate(out: TensorDesc, a: QuantizedActs<TensorDesc>, w: Handles['ternary'], rows: number): void {
      ternaryArgs('ternaryMatmul', a, w, rows);
      rowsTensor('ternaryMatmul', 'out', out, 'f32', rows, w.rows);
    },
    variant: (_out, a) => ({ scheme: a.scheme }),
  },
  ternaryMatmulAcc: {
    validate(out: TensorDesc, a: QuantizedActs<TensorDesc>, w: Handles['ternary'], rows: number): void {
      ternaryArgs('ternaryMatmulAcc', a, w, rows);
      rowsTensor('ternaryMatmulAcc', 'out', out, 'i32', rows, w.rows * accumulatorGroups(a.scheme, w.cols));
    },
    variant: (_out, a) => ({ scheme: a.scheme }),
  },
  rope: {
    validate(x: TensorDesc, nHeads: number, batch: Handles['batch'], p: RopeParams): void {
      const b = batchArg('rope', batch);
      if (!isCount(nHeads) || nHeads === 0) bad('rope', 'heads', `must be a positive integer, got ${nHeads}`);
      heads('rope', p);
      if (!isCount(p.ropeDim) || p.ropeDim === 0 || p.ropeDim % 2 !== 0 || p.ropeDim > p.headDim)
        bad('rope', 'p.ropeDim', `must be even, positive and ≤ headDim ${p.headDim}, got ${p.ropeDim}`);
      if (!(p.theta > 0 && Number.isFinite(p.theta))) bad('rope', 'p.theta', `must be positive, got ${p.theta}`);
      rowsTensor('rope', 'x', x, 'f32', b.n, nHeads * p.headDim);
      for (let i = 0; i < b.n; i++) if (b.positions[i]! < 0) bad('rope', `batch.positions[${i}]`, 'is negative');
    },
  },
  kvStore: {
    validate(cache: Handles['kv'], layer: number, k: TensorDesc, v: TensorDesc, batch: Handles['batch']): void {
      const spec = kvArgs('kvStore', cache, layer, batch);
      rowsTensor('kvStore', 'k', k, 'f32', batch.n, spec.kvHeads * spec.headDim);
      rowsTensor('kvStore', 'v', v, 'f32', batch.n, spec.kvHeads * spec.headDim);
    },
    variant: (cache) => ({ dtype: cache.spec.dtype, headDim: cache.spec.headDim }),
  },
  attention: {
    validate(out: TensorDesc, q: TensorDesc, cache: Handles['kv'], layer: number, batch: Handles['batch'], p: AttentionParams): void {
      const spec = kvArgs('attention', cache, layer, batch);
      heads('attention', p);
      if (!isCount(p.heads) || !isCount(p.kvHeads) || p.kvHeads === 0 || p.heads % p.kvHeads !== 0)
        bad('attention', 'p.heads', `${p.heads} must be a positive multiple of kvHeads ${p.kvHeads}`);
      if (p.kvHeads !== spec.kvHeads || p.headDim !== spec.headDim)
        bad('attention', 'p', `kvHeads ${p.kvHeads} × headDim ${p.headDim} do not match the cache (${spec.kvHeads} × ${spec.headDim})`);
      if (!Number.isFinite(p.scale)) bad('attention', 'p.scale', 'must be finite');
      if (typeof p.roundProbsF16 !== 'boolean') bad('attention', 'p.roundProbsF16', 'must be a boolean');
      rowsTensor('attention', 'q', q, 'f32', batch.n, p.heads * p.headDim);
      rowsTensor('attention', 'out', out, 'f32', batch.n, p.heads * p.headDim);
    },
    variant: (_out, _q, cache) => ({ dtype: cache.spec.dtype, headDim: cache.spec.headDim }),
  },
  gatedActivation: {
    validate(out: TensorDesc, gate: TensorDesc, up: TensorDesc, act: GateActivation, rows: number): void {
      countArg('gatedActivation', 'rows', rows);
      if (!ACTIVATIONS.includes(act)) bad('gatedActivation', 'act', `must be relu2 or silu, got ${String(act)}`);
      const F = rowsTensor('gatedActivation', 'gate', gate, 'f32', rows);
      rowsTensor('gatedActivation', 'up', up, 'f32', rows, F);
      rowsTensor('gatedActivation', 'out', out, 'f32', rows, F);
    },
    variant: (_out, _gate, _up, act) => ({ act }),
  },
  lmHead: {
    validate(out: TensorDesc, x: TensorDesc, matrix: Handles['matrix'], select: Int32Array): void {
      if (!matrix || !isCount(matrix.rows) || !isCount(matrix.cols)) bad('lmHead', 'matrix', 'is not a matrix');
      rowsTensor('lmHead', 'x', x, 'f32', 0, matrix.cols);
      indexArray('lmHead', 'select', select, x.shape[0]!, 'rows of x');
      rowsTensor('lmHead', 'out', out, 'f32', select.length, matrix.rows);
    },
    variant: (_out, _x, matrix) => ({ format: matrix.format }),
  },
  argmax: {
    validate(out: TensorDesc, logits: TensorDesc, rows: number): void {
      countArg('argmax', 'rows', rows);
      rowsTensor('argmax', 'logits', logits, 'f32', rows);
      rowsTensor('argmax', 'out', out, 'i32', rows, 1);
    },
  },
};

/** The most arguments a kernel op takes (attention); wrappers pass exactly this many (assemble.test checks it). */
export const MAX_KERNEL_ARITY = 6;

/** Every kernel name, in the table's order (support tables, the conformance report). */
export const KERNEL_NAMES = Object.keys(OPS) as readonly KernelName[];

// ---------------------------------------------------------------------------------------------------------------
// The plumbing calls (storage, uploads, read, lifecycle): validated the same way; dispose and destroy are not
// ---------------------------------------------------------------------------------------------------------------

// hostMemory and tuning are optional and compute nothing: nothing to validate or time.
type PlumbingName = Exclude<keyof BackendPlumbing, 'info' | 'hostMemory' | 'tuning'>;

export const PLUMBING_CHECKS: { readonly [M in PlumbingName]: ((...args: Parameters<BackendPlumbing[M]>) => void) | null } = {
  alloc(dtype: DType, shape: readonly number[]): void {
    if (!DTYPES.includes(dtype)) bad('alloc', 'dtype', `is not a dtype: ${String(dtype)}`);
    shapeArg('alloc', 'shape', shape);
  },
  upload: checkUpload,
  read(t: TensorDesc, rows?: number): void {
    if (!t || !Array.isArray(t.shape)) bad('read', 't', 'is not a tensor');
    if (rows !== undefined && (!isCount(rows) || rows > (t.shape[0] ?? 1)))
      bad('read', 'rows', `must be an integer in [0, ${t.shape[0]}], got ${rows}`);
  },
  uploadTernary(t: TernaryTensor): void {
    const op = 'uploadTernary';
    if (!t || !isCount(t.rows) || !isCount(t.cols) || t.rows === 0 || t.cols === 0) bad(op, 'rows', 'rows and cols must be positive integers');
    if (t.rows * t.cols > MAX_TENSOR_ELEMENTS) bad(op, 'rows', `${t.rows} × ${t.cols} is too large`);
    if (!['i2_s', 'tq2_0', 'tq1_0', 'codes'].includes(t.format)) bad(op, 'format', `is not a ternary format: ${String(t.format)}`);
    if (!(t.data instanceof Uint8Array)) bad(op, 'data', 'must be a Uint8Array');
    if (!(t.scales instanceof Float32Array)) bad(op, 'scales', 'must be a Float32Array');
    const n = t.rows * t.cols;
    if (t.format === 'i2_s' && n % 128 !== 0) bad(op, 'cols', `i2_s needs rows·cols to be a multiple of 128, got ${n}`);
    if ((t.format === 'tq2_0' || t.format === 'tq1_0') && t.cols % 256 !== 0) bad(op, 'cols', `${t.format} needs cols % 256 = 0, got ${t.cols}`);
    if (t.granularity === 'tensor') {
      if (t.scales.length !== 1) bad(op, 'scales', `'tensor' granularity needs 1 scale, got ${t.scales.length}`);
    } else if (t.granularity === 'block256') {
      if (t.cols % 256 !== 0) bad(op, 'cols', `block256 scales need cols % 256 = 0, got ${t.cols}`);
      if (t.scales.length !== n / 256) bad(op, 'scales', `block256 needs ${n / 256} scales, got ${t.scales.length}`);
    } else bad(op, 'granularity', `must be tensor or block256, got ${String(t.granularity)}`);
    const need = t.format === 'i2_s' ? n / 4 : t.format === 'tq2_0' ? (n / 256) * 66 : t.format === 'tq1_0' ? (n / 256) * 54 : n;
    if (t.data.length < need) bad(op, 'data', `holds ${t.data.length} bytes, ${t.format} ${t.rows}×${t.cols} needs ${need}`);
    if (t.format === 'codes')
      for (let i = 0; i < n; i++) {
        const c = (t.data[i]! << 24) >> 24; // the bytes are int8
        if (c < -1 || c > 1) bad(op, `data[${i}]`, `code ${c} is not −1, 0 or +1`);
      }
  },
  uploadMatrix(host: HostTensor<'f16' | 'f32'>, format: MatrixFormat): void {
    if (!host || (host.dtype !== 'f16' && host.dtype !== 'f32')) bad('uploadMatrix', 'host.dtype', 'must be f16 or f32');
    if (host.shape.length !== 2) bad('uploadMatrix', 'host.shape', `must be [rows, cols], got ${shapeStr(host.shape)}`);
    checkUpload(host);
    if (!MATRIX_FORMATS.includes(format)) bad('uploadMatrix', 'format', `must be f32, f16 or q8, got ${String(format)}`);
  },
  createKvCache(spec: KvCacheSpec): void {
    const op = 'createKvCache';
    for (const k of ['layers', 'slots', 'context', 'kvHeads', 'headDim'] as const)
      if (!isCount(spec?.[k]) || spec[k] === 0) bad(op, `spec.${k}`, `must be a positive integer, got ${spec?.[k]}`);
    if (spec.dtype !== 'f16' && spec.dtype !== 'f32') bad(op, 'spec.dtype', `must be f16 or f32, got ${String(spec.dtype)}`);
    if (spec.slots * spec.context * spec.kvHeads * spec.headDim > MAX_TENSOR_ELEMENTS) bad(op, 'spec', 'one layer of the cache is too large');
  },
  prepareBatch(positions: Int32Array, slots: Int32Array): void {
    if (!(positions instanceof Int32Array)) bad('prepareBatch', 'positions', 'must be an Int32Array');
    if (!(slots instanceof Int32Array)) bad('prepareBatch', 'slots', 'must be an Int32Array');
    if (positions.length !== slots.length) bad('prepareBatch', 'slots', `length ${slots.length} ≠ positions length ${positions.length}`);
    for (let i = 0; i < positions.length; i++) {
      if (positions[i]! < 0) bad('prepareBatch', `positions[${i}]`, `is negative (${positions[i]})`);
      if (slots[i]! < 0) bad('prepareBatch', `slots[${i}]`, `is negative (${slots[i]})`);
    }
  },
  dispose: null,
  destroy: null,
};

/** Every method of a backend besides the kernels and `supports`. */
export const PLUMBING_NAMES = Object.keys(PLUMBING_CHECKS) as readonly PlumbingName[];

function checkUpload(host: HostTensor): void {
  if (!host || !DTYPES.includes(host.dtype)) bad('upload', 'host.dtype', `is not a dtype: ${String(host?.dtype)}`);
  const n = shapeArg('upload', 'host.shape', host.shape);
  const ctor = { f32: Float32Array, f16: Uint16Array, i32: Int32Array, i8: Int8Array }[host.dtype];
  if (!(host.data instanceof ctor)) bad('upload', 'host.data', `must be a ${ctor.name} for ${host.dtype}`);
  if (host.data.length !== n) bad('upload', 'host.data', `holds ${host.data.length} elements, shape ${shapeStr(host.shape)} needs ${n}`);
}

function shapeArg(op: string, arg: string, shape: readonly number[]): number {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 4) bad(op, arg, 'must be an array of 1 to 4 dimensions');
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    if (!isCount(shape[i])) bad(op, `${arg}[${i}]`, `must be a non-negative integer, got ${shape[i]}`);
    n *= shape[i]!;
  }
  if (n > MAX_TENSOR_ELEMENTS) bad(op, arg, `${shapeStr(shape)} has more than 2^31 − 1 elements`);
  return n;
}

function ternaryArgs(op: string, a: QuantizedActs<TensorDesc>, w: Handles['ternary'], rows: number): void {
  countArg(op, 'rows', rows);
  if (!w || !isCount(w.rows) || !isCount(w.cols)) bad(op, 'w', 'is not a ternary matrix');
  const K = quantized(op, 'a', a, rows);
  if (K !== w.cols) bad(op, 'a.q', `width ${K} ≠ w cols ${w.cols}`);
  // One per-token accumulator cannot apply per-block weight scales.
  if (a.scheme === 'per_token' && w.granularity === 'block256') bad(op, 'a.scheme', 'per_token cannot run block256-scaled weights');
}

function kvArgs(op: string, cache: Handles['kv'], layer: number, batch: Handles['batch']): KvCacheSpec {
  if (!cache?.spec) bad(op, 'cache', 'is not a KV cache');
  const spec = cache.spec;
  if (!isCount(layer) || layer >= spec.layers) bad(op, 'layer', `must be in [0, ${spec.layers}), got ${layer}`);
  const b = batchArg(op, batch);
  for (let i = 0; i < b.n; i++) {
    if (b.positions[i]! < 0 || b.positions[i]! >= spec.context)
      bad(op, `batch.positions[${i}]`, `= ${b.positions[i]} is outside [0, ${spec.context}) (context)`);
    if (b.slots[i]! < 0 || b.slots[i]! >= spec.slots) bad(op, `batch.slots[${i}]`, `= ${b.slots[i]} is outside [0, ${spec.slots}) (slots)`);
  }
  return spec;
}

