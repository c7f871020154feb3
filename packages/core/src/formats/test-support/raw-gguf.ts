/**
 * A byte-level GGUF builder for malformed-file tests: every field can be set to anything, including values the
 * real writer refuses (bad type ids, lengths that lie, wrong offsets).
 */
export class RawBytes {
  private chunks: number[] = [];
  u8(v: number): this { this.chunks.push(v & 0xff); return this; }
  u32(v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return this.raw(b); }
  i32(v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); return this.raw(b); }
  u64(v: bigint): this { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true); return this.raw(b); }
  f32(v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); return this.raw(b); }
  raw(b: Uint8Array | number[]): this { for (const x of b) this.chunks.push(x); return this; }
  /** A GGUF string; `len` overrides the declared length. */
  str(s: string | Uint8Array, len?: bigint): this {
    const b = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    return this.u64(len ?? BigInt(b.length)).raw(b);
  }
  get length(): number { return this.chunks.length; }
  bytes(): Uint8Array { return Uint8Array.from(this.chunks); }
}

export interface RawKv {
  key: string | Uint8Array;
  keyLen?: bigint;
  type: number;
  value: (b: RawBytes) => void;
}

export interface RawTensor {
  name: string | Uint8Array;
  nameLen?: bigint;
  nDims?: number;
  ne: bigint[];
  type: number;
  offset: bigint;
}

export interface RawGguf {
  magic?: number;
  version?: number;
  nTensors?: bigint;
  nKv?: bigint;
  kvs: RawKv[];
  tensors: RawTensor[];
  alignment?: number;
  /** Bytes of tensor data after the aligned header (zeros). */
  dataBytes: number;
}

export const T = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;

export function rawGguf(g: RawGguf): Uint8Array {
  const b = new RawBytes();
  b.u32(g.magic ?? 0x46554747).u32(g.version ?? 3);
  b.u64(g.nTensors ?? BigInt(g.tensors.length)).u64(g.nKv ?? BigInt(g.kvs.length));
  for (const kv of g.kvs) {
    b.str(kv.key, kv.keyLen);
    b.i32(kv.type);
    kv.value(b);
  }
  for (const t of g.tensors) {
    b.str(t.name, t.nameLen);
    b.u32(t.nDims ?? t.ne.length);
    for (const d of t.ne) b.u64(d);
    b.i32(t.type);
    b.u64(t.offset);
  }
  const align = g.alignment ?? 32;
  while (b.length % align !== 0) b.u8(0);
  for (let i = 0; i < g.dataBytes; i++) b.u8(0);
  return b.bytes();
}

/** A valid base: a few keys and two F32 tensors [4] and [8] at offsets 0 and 32. */
export function baseRaw(): RawGguf {
  return {
    kvs: [
      { key: 'general.architecture', type: T.STRING, value: (b) => b.str('test') },
      { key: 'general.name', type: T.STRING, value: (b) => b.str('raw') },
      { key: 'test.list', type: T.ARRAY, value: (b) => b.i32(T.UINT32).u64(3n).u32(1).u32(2).u32(3) },
    ],
    tensors: [
      { name: 'a', ne: [4n], type: 0, offset: 0n },
      { name: 'b', ne: [8n], type: 0, offset: 32n },
    ],
    dataBytes: 64,
  };
}
