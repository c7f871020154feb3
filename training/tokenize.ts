/**
 * Trains the default model's byte-level BPE tokenizer on the training text with Trine's own trainer, then encodes
 * train and test text with Trine's own tokenizer: the ids PyTorch trains on are exactly the ids Trine produces.
 *
 *   npx tsx training/tokenize.ts [data-dir] [vocab-size]
 *
 * Writes tokenizer.json (the TokenizerSpec, typed arrays as plain arrays) and train.bin / test.bin: little-endian
 * uint16 token ids, each document starting with BOS (the way Trine encodes a prompt).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteLevelBpeSpec, createTokenizer, type TokenizerSpec } from '../packages/core/src/tokenizer/index.js';

/** Documents are separated by a blank line in prep_data.py's output (paragraphs and verses by a single newline). */
export function documents(text: string): string[] {
  return text.split('\n\n').map((d) => d.trim()).filter((d) => d.length > 0);
}

async function encodeFile(spec: TokenizerSpec, path: string, out: string): Promise<number> {
  const tok = createTokenizer(spec);
  const ids: number[] = [];
  for (const doc of documents(await readFile(path, 'utf8'))) for (const id of tok.encode(doc, { addBos: true })) ids.push(id);
  if (spec.tokens.length > 65536) throw new Error('vocab does not fit uint16');
  await writeFile(out, new Uint8Array(Uint16Array.from(ids).buffer));
  return ids.length;
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? join(import.meta.dirname ?? '.', 'data');
  const vocab = Number(process.argv[3] ?? 4096);
  const train = await readFile(join(dir, 'train.txt'), 'utf8');
  const t0 = Date.now();
  // The tokenizer learns from the training text only; held-out text never shapes the vocabulary.
  const spec = byteLevelBpeSpec(documents(train).join('\n'), vocab);
  console.log(`trained ${spec.merges!.length} merges in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ ...spec, tokenTypes: [...spec.tokenTypes!] }));
  for (const split of ['train', 'test']) {
    const n = await encodeFile(spec, join(dir, `${split}.txt`), join(dir, `${split}.bin`));
    console.log(`${split}: ${n} tokens`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
