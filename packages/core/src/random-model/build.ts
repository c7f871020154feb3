/**
 * One builder for every random BitNet GGUF (the default model, tests, conformance, bench, gpu-check): the layout
 * (layout.ts) is shared; what differs between callers is only how weights are drawn, a `RandomWeights` parameter.
 */
import type { GgufValue } from '../formats/gguf/types.js';
import { writeGguf, writeGgufFileStreaming, type GgufWriteTensor } from '../formats/gguf/writer.js';
import { f32ToBf16, f32ToF16 } from '../quant/f16.js';
import { encodeTernary, ternaryGgufBytes } from '../quant/ternary.js';
import { randomBitnetLayout, type RandomBitnetConfig, type RandomTensor } from './layout.js';

/**
 * Draws the values of each tensor. Called once per tensor in file order, so a draw backed by one sequential RNG
 * gives the same file every time.
 */
export interface RandomWeightValues {
  /** Values of a float tensor (embedding, norm, scale), converted by the builder to the tensor's type. */
  floats(t: RandomTensor, count: number): Float32Array;
  /** Row-major [out, in] codes and the scales as stored: one (I2_S) or one per 256 weights (TQ types). */
  ternary(t: RandomTensor, rows: number, cols: number): { codes: Int8Array; scales: Float32Array };
}

/** Or each tensor's bytes directly, in chunks of any size (multi-GB files never sit in memory). */
export interface RandomWeightBytes {
  bytes(t: RandomTensor): Iterable<Uint8Array>;
}

export type RandomWeights = RandomWeightValues | RandomWeightBytes;

const TERNARY_FORMAT = { I2_S: 'i2_s', TQ2_0: 'tq2_0', TQ1_0: 'tq1_0' } as const;

/** Float values as the bytes of an F32, F16 or BF16 tensor. */
export function floatTensorBytes(values: Float32Array, type: 'F32' | 'F16' | 'BF16'): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const h = new Uint16Array(values.length);
  const convert = type === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < values.length; i++) h[i] = convert(values[i]!);
  return new Uint8Array(h.buffer);
}

function tensorChunks(t: RandomTensor, weights: RandomWeights): Iterable<Uint8Array> {
  if ('bytes' in weights) return weights.bytes(t);
  const n = t.ne.reduce((a, b) => a * b, 1);
  if (t.role !== 'ternary') return [floatTensorBytes(weights.floats(t, n), t.type as 'F32' | 'F16' | 'BF16')];
  const [cols, rows] = t.ne as [number, number];
  const { codes, scales } = weights.ternary(t, rows, cols);
  return [ternaryGgufBytes(encodeTernary(codes, rows, cols, TERNARY_FORMAT[t.type as keyof typeof TERNARY_FORMAT], scales, t.name))];
}

function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  if (list.length === 1) return list[0]!;
  const out = new Uint8Array(list.reduce((a, c) => a + c.byteLength, 0));
  let at = 0;
  for (const c of list) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Metadata and tensors with their data, in file order. */
export function randomBitnetContents(config: RandomBitnetConfig, weights: RandomWeights): { metadata: [string, GgufValue][]; tensors: GgufWriteTensor[] } {
  const { metadata, tensors } = randomBitnetLayout(config);
  return { metadata, tensors: tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, data: concat(tensorChunks(t, weights)) })) };
}

/** A random BitNet model as GGUF bytes, in memory. */
export function buildRandomBitnetGguf(config: RandomBitnetConfig, weights: RandomWeights): Uint8Array {
  const { metadata, tensors } = randomBitnetContents(config, weights);
  return writeGguf(metadata, tensors);
}

/** A random BitNet model written to `path` one chunk at a time (Node). */
export async function writeRandomBitnetGgufFile(path: string, config: RandomBitnetConfig, weights: RandomWeights): Promise<void> {
  const { metadata, tensors } = randomBitnetLayout(config);
  await writeGgufFileStreaming(path, metadata, tensors, (_t, i) => tensorChunks(tensors[i]!, weights));
}
