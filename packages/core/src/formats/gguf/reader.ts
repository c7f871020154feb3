import { TrineError, invalidModelFile } from '../../errors/index.js';
import { type ByteSource, MemoryByteSource, toByteSource, verifySha256 } from '../byte-source.js';
import {
  GGUF_SCALAR_BYTES, GGUF_VALUE_TYPES, KNOWN_GGML_TYPE_NAMES, ggmlTensorBytes, ggmlTypeById,
  type GgmlTypeInfo, type GgmlTypeName, type GgufArrayData, type GgufScalarTypeName, type GgufValue,
} from './types.js';

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Caps on what a header may declare (reliability.md "Malformed model files"); all far above real models. */
export const GGUF_LIMITS = {
  maxKeyBytes: 1024,
  maxStringBytes: 16 << 20,
  maxArrayLength: 1 << 24,
  maxTensors: 1 << 16,
  maxKv: 1 << 16,
  /** GGML_MAX_NAME is 64 including the NUL. */
  maxTensorNameBytes: 63,
  maxDims: 4,
  /** ggml PR #1516 proposes 1 MiB. */
  maxAlignment: 1 << 20,
} as const;

// Smallest possible encodings, for the "count cannot fit in the remaining bytes" plausibility bound.
const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length, 1-byte key, value type, 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length, 1-byte name, n_dims, one ne, type, offset

export interface GgufTensorInfo {
  /** Position in the file's tensor-info list. */
  readonly index: number;
  readonly name: string;
  /** ggml order: ne[0] is the contiguous (input) dimension. */
  readonly ne: readonly number[];
  readonly type: GgmlTypeName;
  readonly typeId: number;
  readonly elements: number;
  /** Offset relative to the data section. */
  readonly offset: number;
  /** Absolute offset in the file. */
  readonly fileOffset: number;
  readonly byteSize: number;
}

export interface GgufOpenOptions {
  /** Refuse (BUDGET_EXCEEDED) a file whose tensors need more bytes than this, before reading any tensor. */
  memoryBudgetBytes?: number;
  /** Bytes per buffered header read (default 1 MiB). */
  headerChunkBytes?: number;
  /** Hash the whole file (same descriptor) and refuse it unless its SHA-256 matches (hex). */
  expectedSha256?: string;
}

export interface GgufFile {
  readonly source: ByteSource;
  readonly version: 2 | 3;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Metadata keys in file order. */
  readonly keys: readonly string[];
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataOffset: number;
  /** Sum of tensor byte sizes (unpadded). */
  readonly tensorBytes: number;
  tensor(name: string): GgufTensorInfo | undefined;
  /** The tensor's bytes (one positional read; never more than the validated size), into `into` when given (ByteSource.read). */
  readTensor(info: GgufTensorInfo | string, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder('utf-8');

/** A forward cursor over a ByteSource that buffers header reads and checks every length against the file. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private bufStart = 0;
  constructor(private readonly src: ByteSource, private readonly chunk: number) {}

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Make `n` bytes at pos available; a read past the end is "truncated" at the field being read. */
  async need(n: number, field: string): Promise<void> {
    if (n > this.remaining) {
      throw invalidModelFile(field, this.pos, `truncated: needs ${n} bytes, ${this.remaining} left in the file`);
    }
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.min(Math.max(n, this.chunk), this.remaining);
    const bytes = await this.src.read(this.pos, len);
    // Copy into our own buffer so a DataView works on any Uint8Array view a source returns.
    this.buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
  }

  /** True when `n` bytes at pos are already buffered (no await needed). */
  has(n: number): boolean {
    return this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length;
  }

  /** The u64 at pos without consuming it (caller checked `has(8)`). */
  peekU64(): bigint {
    return this.view.getBigUint64(this.pos - this.bufStart, true);
  }

  private at(n: number): number {
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }
  u8(): number { return this.view.getUint8(this.at(1)); }
  i8(): number { return this.view.getInt8(this.at(1)); }
  u16(): number { return this.view.getUint16(this.at(2), true); }
  i16(): number { return this.view.getInt16(this.at(2), true); }
  u32(): number { return this.view.getUint32(this.at(4), true); }
  i32(): number { return this.view.getInt32(this.at(4), true); }
  f32(): number { return this.view.getFloat32(this.at(4), true); }
  f64(): number { return this.view.getFloat64(this.at(8), true); }
  u64(): bigint { return this.view.getBigUint64(this.at(8), true); }
  i64(): bigint { return this.view.getBigInt64(this.at(8), true); }
  bytes(n: number): Uint8Array {
    const o = this.at(n);
    return this.buf.subarray(o, o + n);
  }
}

/** Short strings are mostly ASCII: decode those without TextDecoder (≈3× faster for token lists). */
function decodeUtf8(bytes: Uint8Array, fatal: boolean): string | undefined {
  if (bytes.length <= 64) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) { ascii = false; break; }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  if (!fatal) return utf8.decode(bytes);
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The string at pos when it is fully buffered and within the cap; otherwise undefined (take the checked path). */
function tryStringSync(cur: Cursor, cap: number): string | undefined {
  if (!cur.has(8)) return undefined;
  const len = cur.peekU64();
  if (len > BigInt(cap)) return undefined;
  const n = Number(len);
  if (!cur.has(8 + n)) return undefined;
  cur.pos += 8;
  return decodeUtf8(cur.bytes(n), false);
}

/** Read a GGUF string: u64 length (checked against `cap` and the bytes left before anything is read), then bytes. */
async function readString(cur: Cursor, field: string, cap: number, fatal: boolean): Promise<string> {
  const at = cur.pos;
  await cur.need(8, field);
  const len = cur.u64();
  if (len > BigInt(cap)) throw invalidModelFile(field, at, `string length ${len} is above the cap of ${cap} bytes`);
  const n = Number(len);
  if (n > cur.remaining) throw invalidModelFile(field, at, `string length ${n} runs past the end of the file`);
  await cur.need(n, field);
  const s = decodeUtf8(cur.bytes(n), fatal);
  if (s === undefined) throw invalidModelFile(field, at, 'not valid UTF-8');
  return s;
}

async function readValueType(cur: Cursor, field: string): Promise<number> {
  const at = cur.pos;
  await cur.need(4, field);
  const t = cur.i32();
  if (t < 0 || t >= GGUF_VALUE_TYPES.length) throw invalidModelFile(field, at, `unknown value type ${t}`);
  return t;
}

async function readScalar(cur: Cursor, type: GgufScalarTypeName, field: string): Promise<GgufValue> {
  if (type === 'STRING') return { type, value: await readString(cur, field, GGUF_LIMITS.maxStringBytes, false) };
  const at = cur.pos;
  await cur.need(GGUF_SCALAR_BYTES[type], field);
  switch (type) {
    case 'UINT8': return { type, value: cur.u8() };
    case 'INT8': return { type, value: cur.i8() };
    case 'UINT16': return { type, value: cur.u16() };
    case 'INT16': return { type, value: cur.i16() };
    case 'UINT32': return { type, value: cur.u32() };
    case 'INT32': return { type, value: cur.i32() };
    case 'FLOAT32': return { type, value: cur.f32() };
    case 'FLOAT64': return { type, value: cur.f64() };
    case 'UINT64': return { type, value: cur.u64() };
    case 'INT64': return { type, value: cur.i64() };
    case 'BOOL': {
      const b = cur.u8();
      if (b > 1) throw invalidModelFile(field, at, `bool value ${b} is neither 0 nor 1`);
      return { type, value: b === 1 };
    }
  }
}

async function readArray(cur: Cursor, field: string): Promise<GgufValue> {
  const et = await readValueType(cur, `${field}.type`);
  const elementType = GGUF_VALUE_TYPES[et]!;
  if (elementType === 'ARRAY') throw invalidModelFile(`${field}.type`, cur.pos - 4, 'arrays of arrays are not allowed');
  const at = cur.pos;
  await cur.need(8, `${field}.count`);
  const count = cur.u64();
  if (count > BigInt(GGUF_LIMITS.maxArrayLength)) {
    throw invalidModelFile(`${field}.count`, at, `array length ${count} is above the cap of ${GGUF_LIMITS.maxArrayLength}`);
  }
  const n = Number(count);
  const elBytes = GGUF_SCALAR_BYTES[elementType];
  // Check before allocating: the array cannot be longer than the bytes left could encode.
  if (n * elBytes > cur.remaining) {
    throw invalidModelFile(`${field}.count`, at, `${n} × ${elBytes}-byte elements exceed the ${cur.remaining} bytes left`);
  }
  if (elementType === 'STRING') {
    const out: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      // Synchronous when buffered: a 128k-token vocabulary would otherwise cost two awaits per token.
      out[i] = tryStringSync(cur, GGUF_LIMITS.maxStringBytes) ?? await readString(cur, `${field}[${i}]`, GGUF_LIMITS.maxStringBytes, false);
    }
    return { type: 'ARRAY', elementType, value: out };
  }
  await cur.need(n * elBytes, field);
  let value: GgufArrayData;
  switch (elementType) {
    case 'UINT8': value = Uint8Array.from(cur.bytes(n)); break;
    case 'INT8': { const a = new Int8Array(n); for (let i = 0; i < n; i++) a[i] = cur.i8(); value = a; break; }
    case 'UINT16': { const a = new Uint16Array(n); for (let i = 0; i < n; i++) a[i] = cur.u16(); value = a; break; }
    case 'INT16': { const a = new Int16Array(n); for (let i = 0; i < n; i++) a[i] = cur.i16(); value = a; break; }
    case 'UINT32': { const a = new Uint32Array(n); for (let i = 0; i < n; i++) a[i] = cur.u32(); value = a; break; }
    case 'INT32': { const a = new Int32Array(n); for (let i = 0; i < n; i++) a[i] = cur.i32(); value = a; break; }
    case 'FLOAT32': { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = cur.f32(); value = a; break; }
    case 'FLOAT64': { const a = new Float64Array(n); for (let i = 0; i < n; i++) a[i] = cur.f64(); value = a; break; }
    case 'UINT64': { const a = new BigUint64Array(n); for (let i = 0; i < n; i++) a[i] = cur.u64(); value = a; break; }
    case 'INT64': { const a = new BigInt64Array(n); for (let i = 0; i < n; i++) a[i] = cur.i64(); value = a; break; }
    case 'BOOL': {
      const a: boolean[] = new Array<boolean>(n);
      for (let i = 0; i < n; i++) {
        const b = cur.u8();
        if (b > 1) throw invalidModelFile(`${field}[${i}]`, cur.pos - 1, `bool value ${b} is neither 0 nor 1`);
        a[i] = b === 1;
      }
      value = a;
      break;
    }
  }
  return { type: 'ARRAY', elementType, value };
}

function unsupported(field: string, offset: number, message: string): TrineError {
  return new TrineError('UNSUPPORTED', `${field} at byte ${offset}: ${message}`, { field, offset });
}

/** Parse and validate a GGUF header. Nothing sized by the file is allocated before it is checked against the file. */
export async function openGguf(input: string | ByteSource | Uint8Array, options: GgufOpenOptions = {}): Promise<GgufFile> {
  const source = await toByteSource(input);
  try {
    return await parse(source, options);
  } catch (e) {
    if (typeof input === 'string') await source.close();
    throw e;
  }
}

async function parse(source: ByteSource, options: GgufOpenOptions): Promise<GgufFile> {
  if (options.expectedSha256 !== undefined) await verifySha256(source, options.expectedSha256);
  const cur = new Cursor(source, options.headerChunkBytes ?? 1 << 20);
  if (source.size < 24) throw invalidModelFile('header', 0, `file is ${source.size} bytes, a GGUF header needs 24`);
  await cur.need(24, 'header');
  const magic = cur.u32();
  if (magic !== GGUF_MAGIC) throw invalidModelFile('magic', 0, `bad magic 0x${magic.toString(16).padStart(8, '0')}, not a GGUF file`);
  const version = cur.u32();
  if ((version & 0xffff) === 0 && version !== 0) {
    throw invalidModelFile('version', 4, `version 0x${version.toString(16)} looks byte-swapped (big-endian GGUF is not supported)`);
  }
  if (version !== 2 && version !== 3) throw invalidModelFile('version', 4, `unsupported GGUF version ${version} (need 2 or 3)`);
  const nTensors64 = cur.i64();
  const nKv64 = cur.i64();
  if (nTensors64 < 0n || nTensors64 > BigInt(GGUF_LIMITS.maxTensors)) {
    throw invalidModelFile('n_tensors', 8, `tensor count ${nTensors64} is outside 0..${GGUF_LIMITS.maxTensors}`);
  }
  if (nKv64 < 0n || nKv64 > BigInt(GGUF_LIMITS.maxKv)) {
    throw invalidModelFile('n_kv', 16, `key count ${nKv64} is outside 0..${GGUF_LIMITS.maxKv}`);
  }
  const nTensors = Number(nTensors64);
  const nKv = Number(nKv64);
  if (nKv * MIN_KV_BYTES + nTensors * MIN_TENSOR_INFO_BYTES > cur.remaining) {
    throw invalidModelFile('n_kv', 16, `${nKv} keys and ${nTensors} tensors cannot fit in the ${cur.remaining} bytes left`);
  }

  const metadata = new Map<string, GgufValue>();
  const keys: string[] = [];
  for (let i = 0; i < nKv; i++) {
    const keyAt = cur.pos;
    const key = await readString(cur, `kv[${i}].key`, GGUF_LIMITS.maxKeyBytes, true);
    if (key.length === 0) throw invalidModelFile(`kv[${i}].key`, keyAt, 'empty key');
    if (metadata.has(key)) throw invalidModelFile(key, keyAt, 'duplicate key');
    const type = GGUF_VALUE_TYPES[await readValueType(cur, `${key}.type`)]!;
    const value = type === 'ARRAY' ? await readArray(cur, key) : await readScalar(cur, type, key);
    metadata.set(key, value);
    keys.push(key);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al !== undefined) {
    if (al.type !== 'UINT32') throw invalidModelFile('general.alignment', 0, `must be UINT32, is ${al.type}`);
    const a = al.value;
    if (a === 0 || (a & (a - 1)) !== 0 || a > GGUF_LIMITS.maxAlignment) {
      throw invalidModelFile('general.alignment', 0, `${a} is not a power of two in 1..${GGUF_LIMITS.maxAlignment}`);
    }
    alignment = a;
  }

  const tensors: GgufTensorInfo[] = [];
  const byName = new Map<string, GgufTensorInfo>();
  const pending: { name: string; ne: number[]; type: GgmlTypeInfo; elements: number; offset: bigint; at: number; bytes: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const f = `tensor_infos[${i}]`;
    const at = cur.pos;
    const name = await readString(cur, `${f}.name`, GGUF_LIMITS.maxTensorNameBytes, true);
    if (name.length === 0) throw invalidModelFile(`${f}.name`, at, 'empty tensor name');
    if (byName.has(name) || pending.some((p) => p.name === name)) throw invalidModelFile(`${f}.name`, at, `duplicate tensor name ${name}`);
    const dimsAt = cur.pos;
    await cur.need(4, `${f}.n_dims`);
    const nDims = cur.u32();
    if (nDims < 1 || nDims > GGUF_LIMITS.maxDims) throw invalidModelFile(`${f}.n_dims`, dimsAt, `${nDims} dims (need 1..${GGUF_LIMITS.maxDims})`);
    await cur.need(8 * nDims + 4 + 8, f);
    const ne: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const v = cur.i64();
      const neAt = cur.pos - 8;
      if (v <= 0n) throw invalidModelFile(`${f}.ne[${d}]`, neAt, `dimension ${v} must be positive`);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidModelFile(`${f}.ne[${d}]`, neAt, `dimension ${v} is above 2^53`);
      ne.push(Number(v));
      elements *= Number(v); // checked per step: the product stays exact below 2^53
      if (!Number.isSafeInteger(elements)) throw invalidModelFile(`${f}.ne`, neAt, 'element count overflows 2^53');
    }
    const typeAt = cur.pos;
    const typeId = cur.i32();
    const type = ggmlTypeById(typeId);
    if (!type) {
      const known = KNOWN_GGML_TYPE_NAMES[typeId];
      if (known !== undefined) throw unsupported(`${f}.type`, typeAt, `tensor ${name}: ggml type ${known ?? typeId} is not supported (F32, F16, BF16, I2_S, TQ1_0, TQ2_0)`);
      throw invalidModelFile(`${f}.type`, typeAt, `tensor ${name}: unknown ggml type id ${typeId}`);
    }
    if (ne[0]! % type.blockSize !== 0) {
      throw invalidModelFile(`${f}.ne[0]`, dimsAt + 4, `tensor ${name}: ne[0] = ${ne[0]} is not a multiple of ${type.name}'s block of ${type.blockSize}`);
    }
    const offAt = cur.pos;
    const offset = cur.u64();
    const bytes = ggmlTensorBytes(type, elements);
    if (!Number.isSafeInteger(bytes)) throw invalidModelFile(`${f}.ne`, dimsAt, `tensor ${name}: byte size overflows 2^53`);
    pending.push({ name, ne, type, elements, offset, at: offAt, bytes });
  }

  const infoEnd = cur.pos;
  const dataOffset = Math.ceil(infoEnd / alignment) * alignment;
  if (dataOffset > source.size) throw invalidModelFile('data', dataOffset, `data section starts past the end of the ${source.size}-byte file`);

  // Offsets must follow the running padded offset exactly, as ggml's gguf reader requires: no gaps, overlaps or
  // reordering, so every byte of the data section belongs to exactly one tensor.
  let expected = 0;
  let tensorBytes = 0;
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    const f = `tensor_infos[${i}].offset`;
    if (p.offset !== BigInt(expected)) throw invalidModelFile(f, p.at, `tensor ${p.name}: offset ${p.offset}, expected ${expected}`);
    const end = dataOffset + expected + p.bytes;
    if (end > source.size) throw invalidModelFile(f, p.at, `tensor ${p.name}: data [${dataOffset + expected}, ${end}) runs past the end of the ${source.size}-byte file`);
    const info: GgufTensorInfo = {
      index: i, name: p.name, ne: p.ne, type: p.type.name, typeId: p.type.id, elements: p.elements,
      offset: expected, fileOffset: dataOffset + expected, byteSize: p.bytes,
    };
    tensors.push(info);
    byName.set(p.name, info);
    tensorBytes += p.bytes;
    expected += Math.ceil(p.bytes / alignment) * alignment;
    if (!Number.isSafeInteger(expected)) throw invalidModelFile(f, p.at, 'padded data size overflows 2^53');
  }
  // The file may end after the last tensor's bytes or after its padding; more is trailing data (a polyglot risk).
  const last = tensors[tensors.length - 1];
  const minEnd = last ? last.fileOffset + last.byteSize : infoEnd;
  const maxEnd = last ? dataOffset + expected : dataOffset;
  if (source.size > maxEnd) throw invalidModelFile('file', maxEnd, `${source.size - maxEnd} trailing bytes after the tensor data`);
  if (source.size < minEnd) throw invalidModelFile('file', source.size, 'truncated tensor data');

  if (options.memoryBudgetBytes !== undefined && tensorBytes > options.memoryBudgetBytes) {
    throw new TrineError('BUDGET_EXCEEDED',
      `model tensors need ${tensorBytes} bytes, above the memory budget of ${options.memoryBudgetBytes} bytes`, { field: 'memoryBudgetBytes' });
  }

  return {
    source, version: version as 2 | 3, metadata, keys, tensors, alignment, dataOffset, tensorBytes,
    tensor: (name) => byName.get(name),
    async readTensor(t, into) {
      const info = typeof t === 'string' ? byName.get(t) : t;
      if (!info || byName.get(info.name) !== info) {
        throw new TrineError('NOT_FOUND', `tensor ${typeof t === 'string' ? t : t.name} is not in ${source.name}`, { field: 'tensor' });
      }
      return source.read(info.fileOffset, info.byteSize, into);
    },
    close: () => source.close(),
  };
}

/** Parse GGUF bytes already in memory. */
export function openGgufBytes(bytes: Uint8Array, options?: GgufOpenOptions): Promise<GgufFile> {
  return openGguf(new MemoryByteSource(bytes), options);
}
