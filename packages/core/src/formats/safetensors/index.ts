import { TrineError, invalidArgument, invalidModelFile } from '../../errors/index.js';
import { type ByteSource, MemoryByteSource, toByteSource } from '../byte-source.js';
import { type Json, isJsonObject, parseStrictJson } from '../json-strict.js';

/** safetensors dtypes and their size in bits (sub-byte float formats included, case 34). */
export const SAFETENSORS_DTYPE_BITS: Record<string, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32,
  F32: 32, F64: 64, I64: 64, U64: 64, F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

/** The safetensors crate's cap on the header (100 MB). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly elements: number;
  /** Absolute offset of the data in the file. */
  readonly fileOffset: number;
  readonly byteSize: number;
}

export interface SafetensorsFile {
  readonly source: ByteSource;
  readonly headerSize: number;
  readonly metadata: ReadonlyMap<string, string>;
  readonly tensors: readonly SafetensorsTensorInfo[];
  tensor(name: string): SafetensorsTensorInfo | undefined;
  readTensor(info: SafetensorsTensorInfo | string): Promise<Uint8Array>;
  close(): Promise<void>;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

function nonNegInt(v: Json | undefined): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parse and validate a safetensors header (reliability.md cases 28–39) before any tensor is read. */
export async function openSafetensors(input: string | ByteSource | Uint8Array, options: { memoryBudgetBytes?: number } = {}): Promise<SafetensorsFile> {
  const source = await toByteSource(input);
  try {
    return await parse(source, options);
  } catch (e) {
    if (typeof input === 'string') await source.close();
    throw e;
  }
}

async function parse(source: ByteSource, options: { memoryBudgetBytes?: number }): Promise<SafetensorsFile> {
  if (source.size < 8) throw invalidModelFile('header_size', 0, `file is ${source.size} bytes, safetensors needs at least 8`);
  const n64 = new DataView((await source.read(0, 8)).slice().buffer).getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER)) throw invalidModelFile('header_size', 0, `header of ${n64} bytes is above the ${SAFETENSORS_MAX_HEADER}-byte cap`);
  const n = Number(n64);
  if (n + 8 > source.size) throw invalidModelFile('header_size', 0, `header of ${n} bytes runs past the end of the ${source.size}-byte file`);
  if (n < 2) throw invalidModelFile('header', 8, 'header is too short to hold a JSON object');
  let text: string;
  try {
    text = utf8Fatal.decode(await source.read(8, n));
  } catch (e) {
    if (TrineError.is(e)) throw e;
    throw invalidModelFile('header', 8, 'header is not valid UTF-8');
  }
  // HF pads the header with trailing spaces to 8-byte alignment.
  const header = parseStrictJson(text, 'header', 8); // HF's trailing space padding is JSON whitespace
  if (!isJsonObject(header)) throw invalidModelFile('header', 8, 'header is not a JSON object');

  const metadata = new Map<string, string>();
  const entries: { name: string; dtype: string; shape: number[]; elements: number; begin: number; end: number; bytes: number }[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isJsonObject(v)) throw invalidModelFile('__metadata__', 8, 'must be an object of strings');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw invalidModelFile(`__metadata__.${k}`, 8, 'metadata values must be strings');
        metadata.set(k, s);
      }
      continue;
    }
    if (!isJsonObject(v)) throw invalidModelFile(name, 8, 'tensor entry is not an object');
    const dtype = v.dtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BITS)) throw invalidModelFile(`${name}.dtype`, 8, `unknown dtype ${JSON.stringify(dtype)}`);
    const shape = v.shape;
    if (!Array.isArray(shape) || shape.length > 8) throw invalidModelFile(`${name}.shape`, 8, 'shape must be an array of at most 8 dimensions');
    let elements = 1;
    for (const d of shape) {
      if (!nonNegInt(d)) throw invalidModelFile(`${name}.shape`, 8, `dimension ${JSON.stringify(d)} is not a non-negative integer`);
      elements *= d;
      if (!Number.isSafeInteger(elements)) throw invalidModelFile(`${name}.shape`, 8, 'element count overflows 2^53');
    }
    const bits = SAFETENSORS_DTYPE_BITS[dtype]!;
    if ((elements * bits) % 8 !== 0) throw invalidModelFile(`${name}.shape`, 8, `${elements} × ${bits}-bit ${dtype} is not a whole number of bytes`);
    const bytes = (elements * bits) / 8;
    if (!Number.isSafeInteger(bytes)) throw invalidModelFile(`${name}.shape`, 8, 'byte size overflows 2^53');
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !nonNegInt(offs[0]) || !nonNegInt(offs[1])) {
      throw invalidModelFile(`${name}.data_offsets`, 8, 'must be [begin, end] with non-negative integers');
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) throw invalidModelFile(`${name}.data_offsets`, 8, `end ${end} is before begin ${begin}`);
    if (end - begin !== bytes) throw invalidModelFile(`${name}.data_offsets`, 8, `${end - begin} bytes, but ${dtype} [${shape.join(', ')}] needs ${bytes}`);
    for (const k of Object.keys(v)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw invalidModelFile(`${name}.${k}`, 8, 'unknown field in tensor entry');
    }
    entries.push({ name, dtype, shape: shape as number[], elements, begin, end, bytes });
  }
  // The data buffer must be covered exactly: contiguous from 0, no gaps or overlaps (case 35) and nothing after (37).
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of sorted) {
    if (e.begin !== expected) throw invalidModelFile(`${e.name}.data_offsets`, 8, `begins at ${e.begin}, expected ${expected} (gap or overlap)`);
    expected = e.end;
  }
  const dataStart = 8 + n;
  if (dataStart + expected !== source.size) {
    throw invalidModelFile('data', dataStart + expected, `tensors end at ${dataStart + expected}, file is ${source.size} bytes (${dataStart + expected > source.size ? 'truncated' : 'trailing data'})`);
  }
  if (options.memoryBudgetBytes !== undefined && expected > options.memoryBudgetBytes) {
    throw new TrineError('BUDGET_EXCEEDED', `tensors need ${expected} bytes, above the memory budget of ${options.memoryBudgetBytes}`, { field: 'memoryBudgetBytes' });
  }
  const tensors: SafetensorsTensorInfo[] = entries.map((e) => ({
    name: e.name, dtype: e.dtype, shape: e.shape, elements: e.elements, fileOffset: dataStart + e.begin, byteSize: e.bytes,
  }));
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return {
    source, headerSize: n, metadata, tensors,
    tensor: (name) => byName.get(name),
    async readTensor(t) {
      const info = typeof t === 'string' ? byName.get(t) : t;
      if (!info || byName.get(info.name) !== info) throw new TrineError('NOT_FOUND', `tensor ${typeof t === 'string' ? t : t.name} is not in ${source.name}`, { field: 'tensor' });
      return source.read(info.fileOffset, info.byteSize);
    },
    close: () => source.close(),
  };
}

export interface SafetensorsWriteTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** Write a safetensors file (header padded with spaces to 8 bytes, tensors in the given order). */
export function writeSafetensors(tensors: readonly SafetensorsWriteTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bits = SAFETENSORS_DTYPE_BITS[t.dtype];
    if (bits === undefined) throw invalidArgument(`${t.name}.dtype`, `unknown dtype ${t.dtype}`);
    const want = (t.shape.reduce((a, b) => a * b, 1) * bits) / 8;
    if (t.data.byteLength !== want) throw invalidArgument(`${t.name}.data`, `${t.data.byteLength} bytes, needs ${want}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

export function openSafetensorsBytes(bytes: Uint8Array): Promise<SafetensorsFile> {
  return openSafetensors(new MemoryByteSource(bytes));
}
