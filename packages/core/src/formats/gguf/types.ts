/** GGUF value types (gguf.h `enum gguf_type`), named as gguf-py's dumper prints them. */
export const GGUF_VALUE_TYPES = [
  'UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64',
  'FLOAT64',
] as const;
export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];
export type GgufScalarTypeName = Exclude<GgufValueTypeName, 'ARRAY'>;

export type GgufArrayData =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigUint64Array | BigInt64Array | boolean[] | string[];

/** One metadata value. 64-bit integers stay bigint; `metaNumber` converts them with a range check. */
export type GgufValue =
  | { readonly type: 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'FLOAT32' | 'FLOAT64'; readonly value: number }
  | { readonly type: 'UINT64' | 'INT64'; readonly value: bigint }
  | { readonly type: 'BOOL'; readonly value: boolean }
  | { readonly type: 'STRING'; readonly value: string }
  | { readonly type: 'ARRAY'; readonly elementType: GgufScalarTypeName; readonly value: GgufArrayData };

/** Fixed byte size of a scalar value type (strings: the minimum, an empty string's length prefix). */
export const GGUF_SCALAR_BYTES: Record<GgufScalarTypeName, number> = {
  UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, UINT32: 4, INT32: 4, FLOAT32: 4, BOOL: 1, STRING: 8, UINT64: 8, INT64: 8,
  FLOAT64: 8,
};

/** ggml tensor types Trine reads. Others (Q4_0, ...) are well-formed GGUF but UNSUPPORTED. */
export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'TQ1_0' | 'TQ2_0' | 'I2_S';

export interface GgmlTypeInfo {
  readonly name: GgmlTypeName;
  readonly id: number;
  /** Elements per block along ne[0]; ne[0] must be a multiple. */
  readonly blockSize: number;
  /** Bytes per block (I2_S: see `ggmlTensorBytes`, its size is special-cased). */
  readonly typeSize: number;
}

export const GGML_TYPES: Record<GgmlTypeName, GgmlTypeInfo> = {
  F32: { name: 'F32', id: 0, blockSize: 1, typeSize: 4 },
  F16: { name: 'F16', id: 1, blockSize: 1, typeSize: 2 },
  BF16: { name: 'BF16', id: 30, blockSize: 1, typeSize: 2 },
  TQ1_0: { name: 'TQ1_0', id: 34, blockSize: 256, typeSize: 54 },
  TQ2_0: { name: 'TQ2_0', id: 35, blockSize: 256, typeSize: 66 },
  // bitnet.cpp's type: ggml says block size 1, type size 1, but the tensor is n/4 packed bytes + a 32-byte scale
  // slot. Its x86 kernels use 128-weight blocks, so ne[0] must be a multiple of 128 for the codes to fit rows.
  I2_S: { name: 'I2_S', id: 36, blockSize: 128, typeSize: 32 },
};

const BY_ID = new Map<number, GgmlTypeInfo>(Object.values(GGML_TYPES).map((t) => [t.id, t]));
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** ggml type ids that exist upstream (for "unsupported" vs "invalid"); names for messages. */
export const KNOWN_GGML_TYPE_NAMES: Record<number, string> = {
  2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K',
  14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 37: 'TL1', 38: 'TL2',
  39: 'MXFP4',
};

/** I2_S bytes for n weights: n/4 packed code bytes, then a 32-byte slot whose first 4 bytes are the f32 scale. */
export function i2sTensorBytes(n: number): number {
  return n / 4 + 32;
}

/** Bytes a tensor of `elements` weights occupies in `type` (ne[0] already checked to be a block multiple). */
export function ggmlTensorBytes(type: GgmlTypeInfo, elements: number): number {
  if (type.name === 'I2_S') return i2sTensorBytes(elements);
  return (elements / type.blockSize) * type.typeSize;
}
