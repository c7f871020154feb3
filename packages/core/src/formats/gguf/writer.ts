import { invalidArgument } from '../../errors/index.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from './reader.js';
import {
  GGML_TYPES, GGUF_SCALAR_BYTES, GGUF_VALUE_TYPES, ggmlTensorBytes, type GgmlTypeName, type GgufScalarTypeName,
  type GgufValue,
} from './types.js';

/** A tensor to write: `data` must be exactly the ggml byte size of `type` × ne (I2_S: n/4 + 32). */
export interface GgufWriteTensor {
  readonly name: string;
  readonly ne: readonly number[];
  readonly type: GgmlTypeName;
  readonly data: Uint8Array;
}

export interface GgufWriteOptions {
  version?: 2 | 3;
}

/** Shorthands for metadata values. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: 'UINT8', value }),
  i8: (value: number): GgufValue => ({ type: 'INT8', value }),
  u16: (value: number): GgufValue => ({ type: 'UINT16', value }),
  i16: (value: number): GgufValue => ({ type: 'INT16', value }),
  u32: (value: number): GgufValue => ({ type: 'UINT32', value }),
  i32: (value: number): GgufValue => ({ type: 'INT32', value }),
  f32: (value: number): GgufValue => ({ type: 'FLOAT32', value }),
  f64: (value: number): GgufValue => ({ type: 'FLOAT64', value }),
  u64: (value: bigint): GgufValue => ({ type: 'UINT64', value }),
  i64: (value: bigint): GgufValue => ({ type: 'INT64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'BOOL', value }),
  str: (value: string): GgufValue => ({ type: 'STRING', value }),
  strs: (value: string[]): GgufValue => ({ type: 'ARRAY', elementType: 'STRING', value }),
  i32s: (value: Int32Array): GgufValue => ({ type: 'ARRAY', elementType: 'INT32', value }),
  f32s: (value: Float32Array): GgufValue => ({ type: 'ARRAY', elementType: 'FLOAT32', value }),
};

const enc = new TextEncoder();

/** Growable little-endian byte buffer. (Each write calls grow() before reading this.view: grow may replace it.) */
class Out {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  len = 0;
  private grow(n: number): number {
    if (this.len + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + n) cap *= 2;
      const b = new Uint8Array(cap);
      b.set(this.buf.subarray(0, this.len));
      this.buf = b;
      this.view = new DataView(b.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number) { const at = this.grow(1); this.view.setUint8(at, v); }
  i8(v: number) { const at = this.grow(1); this.view.setInt8(at, v); }
  u16(v: number) { const at = this.grow(2); this.view.setUint16(at, v, true); }
  i16(v: number) { const at = this.grow(2); this.view.setInt16(at, v, true); }
  u32(v: number) { const at = this.grow(4); this.view.setUint32(at, v, true); }
  i32(v: number) { const at = this.grow(4); this.view.setInt32(at, v, true); }
  f32(v: number) { const at = this.grow(4); this.view.setFloat32(at, v, true); }
  f64(v: number) { const at = this.grow(8); this.view.setFloat64(at, v, true); }
  u64(v: bigint) { const at = this.grow(8); this.view.setBigUint64(at, v, true); }
  i64(v: bigint) { const at = this.grow(8); this.view.setBigInt64(at, v, true); }
  bytes(b: Uint8Array) { const at = this.grow(b.length); this.buf.set(b, at); }
  str(s: string) { const b = enc.encode(s); this.u64(BigInt(b.length)); this.bytes(b); }
  pad(alignment: number) { const n = (alignment - (this.len % alignment)) % alignment; this.grow(n); }
  result(): Uint8Array { return this.buf.slice(0, this.len); }
}

function writeScalar(out: Out, type: GgufScalarTypeName, v: unknown): void {
  switch (type) {
    case 'UINT8': out.u8(v as number); break;
    case 'INT8': out.i8(v as number); break;
    case 'UINT16': out.u16(v as number); break;
    case 'INT16': out.i16(v as number); break;
    case 'UINT32': out.u32(v as number); break;
    case 'INT32': out.i32(v as number); break;
    case 'FLOAT32': out.f32(v as number); break;
    case 'FLOAT64': out.f64(v as number); break;
    case 'UINT64': out.u64(v as bigint); break;
    case 'INT64': out.i64(v as bigint); break;
    case 'BOOL': out.u8(v ? 1 : 0); break;
    case 'STRING': out.str(v as string); break;
  }
}

function alignmentOf(metadata: ReadonlyMap<string, GgufValue>): number {
  const a = metadata.get('general.alignment');
  if (a === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (a.type !== 'UINT32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
    throw invalidArgument('general.alignment', 'must be a UINT32 power of two');
  }
  return a.value;
}

/** A tensor's header entry without its data (streaming writes). */
export interface GgufWriteTensorInfo {
  readonly name: string;
  readonly ne: readonly number[];
  readonly type: GgmlTypeName;
}

/** Bytes a tensor's data occupies (before alignment padding). */
export function ggufTensorDataBytes(t: GgufWriteTensorInfo): number {
  const type = GGML_TYPES[t.type];
  if (!type) throw invalidArgument(`tensors.${t.name}.type`, `cannot write type ${t.type}`);
  return ggmlTensorBytes(type, t.ne.reduce((a, b) => a * b, 1));
}

function checkTensor(t: GgufWriteTensorInfo & { readonly data?: Uint8Array }): void {
  const type = GGML_TYPES[t.type];
  if (!type) throw invalidArgument(`tensors.${t.name}.type`, `cannot write type ${t.type}`);
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.ne.length < 1 || t.ne.length > 4 || t.ne.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
    throw invalidArgument(`tensors.${t.name}.ne`, `bad shape [${t.ne.join(', ')}]`);
  }
  if (t.ne[0]! % type.blockSize !== 0) throw invalidArgument(`tensors.${t.name}.ne`, `ne[0] must be a multiple of ${type.blockSize}`);
  const want = ggmlTensorBytes(type, n);
  if (t.data !== undefined && t.data.byteLength !== want) throw invalidArgument(`tensors.${t.name}.data`, `${t.data.byteLength} bytes, ${t.type} [${t.ne.join(', ')}] needs ${want}`);
}

/** The header (magic .. tensor infos, padded to the alignment) and the data offsets of each tensor. */
function header(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly (GgufWriteTensorInfo & { readonly data?: Uint8Array })[], options: GgufWriteOptions): { head: Uint8Array; alignment: number } {
  const alignment = alignmentOf(metadata);
  const out = new Out();
  out.u32(GGUF_MAGIC);
  out.u32(options.version ?? 3);
  out.i64(BigInt(tensors.length));
  out.i64(BigInt(metadata.size));
  for (const [key, value] of metadata) {
    out.str(key);
    out.i32(GGUF_VALUE_TYPES.indexOf(value.type));
    if (value.type === 'ARRAY') {
      out.i32(GGUF_VALUE_TYPES.indexOf(value.elementType));
      const arr = value.value as ArrayLike<unknown>;
      out.u64(BigInt(arr.length));
      for (let i = 0; i < arr.length; i++) writeScalar(out, value.elementType, arr[i]);
    } else {
      writeScalar(out, value.type, value.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    checkTensor(t);
    out.str(t.name);
    out.u32(t.ne.length);
    for (const d of t.ne) out.i64(BigInt(d));
    out.i32(GGML_TYPES[t.type].id);
    out.u64(BigInt(offset));
    offset += Math.ceil(ggufTensorDataBytes(t) / alignment) * alignment;
  }
  out.pad(alignment);
  return { head: out.result(), alignment };
}

function toMap(metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>): ReadonlyMap<string, GgufValue> {
  return metadata instanceof Map ? metadata : new Map(metadata as Iterable<[string, GgufValue]>);
}

/** Write a GGUF file to memory (tests, browsers). Each tensor is padded to the alignment, as ggml writes it. */
export function writeGguf(
  metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>,
  tensors: readonly GgufWriteTensor[],
  options: GgufWriteOptions = {},
): Uint8Array {
  const { head, alignment } = header(toMap(metadata), tensors, options);
  let total = head.length;
  for (const t of tensors) total += Math.ceil(t.data.byteLength / alignment) * alignment;
  const file = new Uint8Array(total);
  file.set(head, 0);
  let at = head.length;
  for (const t of tensors) {
    file.set(t.data, at);
    at += Math.ceil(t.data.byteLength / alignment) * alignment;
  }
  return file;
}

/** Write a GGUF file to disk, one tensor at a time (never the whole file in memory). */
export async function writeGgufFile(
  path: string,
  metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>,
  tensors: readonly GgufWriteTensor[],
  options: GgufWriteOptions = {},
): Promise<void> {
  const { head, alignment } = header(toMap(metadata), tensors, options);
  const fs = await import('node:fs/promises');
  const fh = await fs.open(path, 'w');
  try {
    await fh.write(head);
    for (const t of tensors) {
      await fh.write(t.data);
      const pad = (alignment - (t.data.byteLength % alignment)) % alignment;
      if (pad) await fh.write(new Uint8Array(pad));
    }
  } finally {
    await fh.close();
  }
}

/**
 * Write a GGUF file to disk with tensor data produced on demand, in chunks: `chunks(t, i)` yields tensor i's bytes
 * in order (any chunk sizes) and is called once per tensor, in order, so a generator can stream multi-GB files
 * without holding a whole tensor. The byte count of each tensor is checked against its type and shape.
 */
export async function writeGgufFileStreaming(
  path: string,
  metadata: ReadonlyMap<string, GgufValue> | Iterable<readonly [string, GgufValue]>,
  tensors: readonly GgufWriteTensorInfo[],
  chunks: (t: GgufWriteTensorInfo, index: number) => Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: GgufWriteOptions = {},
): Promise<void> {
  const { head, alignment } = header(toMap(metadata), tensors, options);
  const fs = await import('node:fs/promises');
  const fh = await fs.open(path, 'w');
  try {
    await fh.write(head);
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const want = ggufTensorDataBytes(t);
      let written = 0;
      for await (const c of chunks(t, i)) {
        written += c.byteLength;
        if (written > want) throw invalidArgument(`tensors.${t.name}.data`, `more than the ${want} bytes ${t.type} [${t.ne.join(', ')}] needs`);
        await fh.write(c);
      }
      if (written !== want) throw invalidArgument(`tensors.${t.name}.data`, `${written} bytes, ${t.type} [${t.ne.join(', ')}] needs ${want}`);
      const pad = (alignment - (want % alignment)) % alignment;
      if (pad) await fh.write(new Uint8Array(pad));
    }
  } finally {
    await fh.close();
  }
}

/** Bytes a scalar value type occupies (re-exported for tests that craft files by hand). */
export const scalarBytes = GGUF_SCALAR_BYTES;
