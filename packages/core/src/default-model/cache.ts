/**
 * The default model on disk: the trained model shipped in the package (trained.ts) when it is there; otherwise, or
 * when asked for (`random`, or a `tokenizer` to embed), the random-weight model, built once and cached as
 * `$TRINE_CACHE_DIR/default-<hash>.gguf` (else `~/.cache/trine/`). The hash covers the generator version, shape,
 * seed and tokenizer, so a change rebuilds it. Written to a temporary file and renamed into place: concurrent
 * processes never see a partial file, and the last rename wins with identical bytes.
 */
import type { TokenizerSpec } from '../tokenizer/spec.js';
import { writeGgufFile } from '../formats/gguf/index.js';
import { tokenizerMetadata } from '../tokenizer/to-gguf.js';
import { DEFAULT_MODEL_SEED, DEFAULT_MODEL_SHAPE, DEFAULT_MODEL_VERSION, defaultModelContents } from './build.js';
import { trainedDefaultModelPath } from './trained.js';

export interface DefaultModelOptions {
  /** Directory for the cached file (default: $TRINE_CACHE_DIR, else ~/.cache/trine). */
  cacheDir?: string;
  /** Tokenizer to embed in the random-weight model (implies `random`; the trained model has its own). */
  tokenizer?: TokenizerSpec;
  /** The random-weight model even where the trained one is shipped (tests, bench shapes). */
  random?: boolean;
}

async function defaultTokenizer(): Promise<TokenizerSpec> {
  const { buildDefaultTokenizerSpec } = await import('../tokenizer/index.js');
  return buildDefaultTokenizerSpec();
}

/** Where the cache lives: the option, $TRINE_CACHE_DIR, or ~/.cache/trine. */
export async function defaultCacheDir(): Promise<string> {
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  const env = process.env.TRINE_CACHE_DIR;
  return env && env.length > 0 ? env : join(homedir(), '.cache', 'trine');
}

/** A short content key for the model the generator would build with this tokenizer. */
export async function defaultModelKey(tokenizer: TokenizerSpec): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: DEFAULT_MODEL_VERSION, shape: DEFAULT_MODEL_SHAPE, seed: DEFAULT_MODEL_SEED }));
  for (const [key, value] of tokenizerMetadata(tokenizer)) {
    h.update(key);
    const v = value.value;
    h.update(
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
        ? String(v)
        : Array.isArray(v)
          ? v.join('\u0000')
          : new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    );
  }
  return h.digest('hex').slice(0, 16);
}

/** Path of the default model: the shipped trained file, else the random one, built and cached first if needed. */
export async function ensureDefaultModel(options: DefaultModelOptions = {}): Promise<string> {
  if (options.random !== true && options.tokenizer === undefined) {
    const trained = await trainedDefaultModelPath();
    if (trained !== undefined) return trained;
  }
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const tokenizer = options.tokenizer ?? (await defaultTokenizer());
  const dir = options.cacheDir ?? (await defaultCacheDir());
  const path = join(dir, `default-${await defaultModelKey(tokenizer)}.gguf`);
  try {
    if ((await fs.stat(path)).size > 0) return path;
  } catch {
    // Not cached yet.
  }
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const { metadata, tensors } = defaultModelContents(tokenizer);
    await writeGgufFile(tmp, metadata, tensors);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  return path;
}
