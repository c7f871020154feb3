/**
 * The bench's models: core's random-model builder at a shape from shapes.ts with streamed weights (a multi-GB file
 * never sits in memory), cached as `<cache>/bench/<shape>-<format>-g<version>-<hash>.gguf` (temporary file renamed
 * into place).
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultTokenizerWithVocab, streamedWeights, writeRandomBitnetGgufFile, type ModelShape, type RandomBitnetConfig } from '@trine/core';
import type { WeightFormat } from './shapes.js';

/** Bump when the bytes this writes change, so cached files are rebuilt. */
export const GENERATOR_VERSION = 1;

/** The builder's config for a shape: bitnet.cpp's `bitnet-b1.58` graph, a tokenizer of the shape's vocabulary. */
export function benchModelConfig(shape: ModelShape, format: WeightFormat): RandomBitnetConfig {
  return {
    arch: 'bitnet-b1.58', hidden: shape.hidden, layers: shape.layers, heads: shape.heads, kvHeads: shape.kvHeads,
    ffn: shape.ffn, context: shape.context, ternary: format === 'i2_s' ? 'I2_S' : 'TQ2_0',
    tokenizer: defaultTokenizerWithVocab(shape.vocab),
    name: `trine-bench-${shape.name}-${format} (random weights)`,
    description: `Trine bench model: ${shape.description}, random ternary weights (output is gibberish).`,
    fileType: format === 'i2_s' ? 40 : 37, // LLAMA_FTYPE_MOSTLY_I2_S, LLAMA_FTYPE_MOSTLY_TQ2_0
  };
}

export function benchCacheDir(): string {
  const env = process.env.TRINE_CACHE_DIR;
  return join(env && env.length > 0 ? env : join(homedir(), '.cache', 'trine'), 'bench');
}

export function benchModelKey(shape: ModelShape, format: WeightFormat): string {
  const h = createHash('sha256').update(JSON.stringify({ v: GENERATOR_VERSION, shape, format })).digest('hex').slice(0, 12);
  return `${shape.name}-${format}-g${GENERATOR_VERSION}-${h}`;
}

/** Path of the bench model for a shape, generating it first when it is not cached. `built` says whether it was. */
export async function ensureBenchModel(
  shape: ModelShape,
  format: WeightFormat = 'i2_s',
  opts: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<{ path: string; built: boolean; seconds: number }> {
  const dir = opts.cacheDir ?? benchCacheDir();
  const key = benchModelKey(shape, format);
  const path = join(dir, `${key}.gguf`);
  try {
    if ((await stat(path)).size > 0) return { path, built: false, seconds: 0 };
  } catch {
    // Not cached yet.
  }
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  opts.log?.(`generating ${shape.name} (${format}) → ${path}`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeRandomBitnetGgufFile(tmp, benchModelConfig(shape, format), await streamedWeights(key));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { path, built: true, seconds: (performance.now() - t0) / 1000 };
}
