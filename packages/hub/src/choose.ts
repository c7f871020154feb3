/**
 * Which files of a repo a pull takes. A GGUF repo: the one file Trine runs best, I2_S, then TQ2_0, then TQ1_0,
 * told by its name or, when names do not say, by the tensor types in its header. A safetensors repo: config,
 * tokenizer files and weights (what core's Hugging Face directory loader reads).
 */
import { type ByteSource, TrineError, openGguf } from '@trine/core';

export const TERNARY_PREFERENCE = ['I2_S', 'TQ2_0', 'TQ1_0'] as const;
export type TernaryType = (typeof TERNARY_PREFERENCE)[number];

const NAME_PATTERNS: Record<TernaryType, RegExp> = {
  I2_S: /(^|[^a-z0-9])i2[_-]?s([^a-z0-9]|$)/i,
  TQ2_0: /(^|[^a-z0-9])tq2[_-]?0([^a-z0-9]|$)/i,
  TQ1_0: /(^|[^a-z0-9])tq1[_-]?0([^a-z0-9]|$)/i,
};

/** Files a safetensors model directory needs or may use; weights are matched by extension. */
const HF_DIRECTORY_FILES = new Set([
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'tokenizer.model', 'chat_template.jinja', 'added_tokens.json', 'model.safetensors.index.json',
]);

/** Headers read at most, when names do not tell the type (each is a few ranged reads). */
const MAX_HEADER_PROBES = 16;

export function isGguf(file: string): boolean {
  return file.toLowerCase().endsWith('.gguf');
}

export function ternaryTypeFromName(file: string): TernaryType | undefined {
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.gguf$/i, '');
  return TERNARY_PREFERENCE.find((t) => NAME_PATTERNS[t].test(base));
}

/** The ternary type most of a GGUF's tensors use (undefined: none ternary, e.g. an F16 or Q4 file). */
export async function ternaryTypeFromHeader(source: ByteSource | string): Promise<TernaryType | undefined> {
  const g = await openGguf(source, { headerChunkBytes: 256 << 10 });
  try {
    const counts = new Map<TernaryType, number>();
    for (const t of g.tensors) {
      if ((TERNARY_PREFERENCE as readonly string[]).includes(t.type)) counts.set(t.type as TernaryType, (counts.get(t.type as TernaryType) ?? 0) + 1);
    }
    let best: TernaryType | undefined;
    for (const [t, n] of counts) if (best === undefined || n > counts.get(best)!) best = t;
    return best;
  } finally {
    if (typeof source === 'string') await g.close();
  }
}

export interface GgufChoice {
  file: string;
  type: TernaryType;
  /** How the type was told: from the file name or from the header's tensor types. */
  by: 'name' | 'header';
}

/** Picks the GGUF to run; `readType` reads a candidate's header (remote or cached) when names do not tell. */
export async function chooseGguf(repo: string, files: readonly string[], readType: (file: string) => Promise<TernaryType | undefined>): Promise<GgufChoice> {
  // Split models (-00001-of-00003.gguf) are not loadable as one file; leave them out of the choice.
  const ggufs = files.filter((f) => isGguf(f) && !/-\d{5}-of-\d{5}\.gguf$/i.test(f)).sort((a, b) => a.length - b.length || a.localeCompare(b));
  for (const type of TERNARY_PREFERENCE) {
    const named = ggufs.find((f) => ternaryTypeFromName(f) === type);
    if (named) return { file: named, type, by: 'name' };
  }
  const probed: Array<{ file: string; type: TernaryType }> = [];
  for (const file of ggufs.slice(0, MAX_HEADER_PROBES)) {
    const type = await readType(file);
    if (type) probed.push({ file, type });
  }
  for (const type of TERNARY_PREFERENCE) {
    const hit = probed.find((p) => p.type === type);
    if (hit) return { ...hit, by: 'header' };
  }
  throw new TrineError('UNSUPPORTED', `${repo}: no GGUF with I2_S, TQ2_0 or TQ1_0 weights among ${ggufs.join(', ') || 'its files'}; name one with --file (or hf:${repo}/FILE)`, { field: 'file' });
}

/** The files of a safetensors model directory, or undefined when the repo is not one. */
export function hfDirectoryFiles(files: readonly string[]): string[] | undefined {
  const top = files.filter((f) => !f.includes('/'));
  if (!top.includes('config.json') || !top.some((f) => f.endsWith('.safetensors'))) return undefined;
  return top.filter((f) => HF_DIRECTORY_FILES.has(f) || f.endsWith('.safetensors'));
}

/** A ByteSource over a remote file, read with Range requests (to read a GGUF header without downloading it). */
export class RangeByteSource implements ByteSource {
  constructor(readonly name: string, readonly size: number, private readonly readRange: (offset: number, length: number) => Promise<Uint8Array>) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new TrineError('INVALID_MODEL_FILE', `${this.name}: read of ${length} bytes at ${offset} is past its ${this.size} bytes`, { offset });
    }
    if (length === 0) return new Uint8Array(0);
    return this.readRange(offset, length);
  }
  async close(): Promise<void> {}
}
