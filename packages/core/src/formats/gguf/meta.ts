import { invalidModelFile } from '../../errors/index.js';
import type { GgufValue } from './types.js';

/** Typed access to GGUF metadata: every getter names the key in its error and range-checks what it converts. */
export type Metadata = ReadonlyMap<string, GgufValue>;

const INT_TYPES = new Set(['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'UINT64', 'INT64']);

export interface IntRange {
  min?: number;
  max?: number;
}

/** An integer key as a JS number; 64-bit values are range-checked before conversion (> 2^53 is rejected). */
export function metaInt(meta: Metadata, key: string, range: IntRange = {}): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!INT_TYPES.has(v.type)) throw invalidModelFile(key, 0, `must be an integer, is ${v.type}`);
  const min = range.min ?? Number.MIN_SAFE_INTEGER;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const raw = v.value as number | bigint;
  if (typeof raw === 'bigint') {
    if (raw < BigInt(min) || raw > BigInt(max)) throw invalidModelFile(key, 0, `${raw} is outside ${min}..${max}`);
    return Number(raw);
  }
  if (raw < min || raw > max) throw invalidModelFile(key, 0, `${raw} is outside ${min}..${max}`);
  return raw;
}

export function requireInt(meta: Metadata, key: string, range: IntRange = {}): number {
  const v = metaInt(meta, key, range);
  if (v === undefined) throw invalidModelFile(key, 0, 'required key is missing');
  return v;
}

export function metaFloat(meta: Metadata, key: string): number | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'FLOAT32' && v.type !== 'FLOAT64') {
    if (INT_TYPES.has(v.type)) return metaInt(meta, key);
    throw invalidModelFile(key, 0, `must be a float, is ${v.type}`);
  }
  if (!Number.isFinite(v.value)) throw invalidModelFile(key, 0, `${v.value} is not finite`);
  return v.value;
}

export function metaString(meta: Metadata, key: string): string | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'STRING') throw invalidModelFile(key, 0, `must be STRING, is ${v.type}`);
  return v.value;
}

export function requireString(meta: Metadata, key: string): string {
  const v = metaString(meta, key);
  if (v === undefined) throw invalidModelFile(key, 0, 'required key is missing');
  return v;
}

export function metaBool(meta: Metadata, key: string): boolean | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'BOOL') throw invalidModelFile(key, 0, `must be BOOL, is ${v.type}`);
  return v.value;
}

/** A string array (tokens, merges). */
export function metaStringArray(meta: Metadata, key: string): string[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'ARRAY' || v.elementType !== 'STRING') {
    throw invalidModelFile(key, 0, `must be an ARRAY of STRING, is ${v.type === 'ARRAY' ? `ARRAY of ${v.elementType}` : v.type}`);
  }
  return v.value as string[];
}

/** An array of one exact element type (e.g. token_type INT32, scores FLOAT32; PR #26690's UINT8 scores are rejected). */
export function metaTypedArray<T>(meta: Metadata, key: string, elementType: string): T | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'ARRAY' || v.elementType !== elementType) {
    throw invalidModelFile(key, 0, `must be an ARRAY of ${elementType}, is ${v.type === 'ARRAY' ? `ARRAY of ${v.elementType}` : v.type}`);
  }
  return v.value as T;
}
