/**
 * Vocabularies for the constrained-decoding suite. The bench's 2B4T model carries a 128256-token tokenizer, but only
 * its 955 default-tokenizer pieces spell bytes (core's defaultTokenizerWithVocab fills the rest with control tokens
 * `<|reserved_N|>`, which no grammar can match), so a mask over it costs what a 1k vocabulary costs. The mask suite
 * needs what the real LLaMA-3 vocabulary has instead: 128000 byte strings, 274520 trie nodes. Without a download,
 * `llama3ShapedVocabulary` draws one with its measured shape (length histogram, share of leading-space words,
 * non-ASCII pieces, quotes and backslashes, 3-digit numbers, whitespace runs); `readTiktokenVocabulary` reads the real
 * file (`tokenizer.model` of Meta's LLaMA 3, shipped in microsoft/BitNet's gpu/ folder) when one is at hand.
 */
import { readFile } from 'node:fs/promises';
import { TrineError } from '@trine/core';

/** Pieces by byte length 1..30 in the LLaMA-3 vocabulary (counted on its tokenizer.model). */
const LENGTHS = [256, 4287, 15369, 18557, 17226, 19356, 15062, 10710, 9579, 5708, 4401, 2528, 1825, 782, 763, 279, 308, 174, 177, 65, 114, 50, 48, 32, 35, 16, 17, 11, 5, 6];
const CONSONANTS = 'bcdfghjklmnprstvwyzqx';
const VOWELS = 'aeiouy';
const PUNCT = '{}[]()<>;:,.!?=+-*/&|%$#@^~`\'"_\\';
/** Code point ranges of the scripts LLaMA-3 spends most non-ASCII pieces on. */
const SCRIPTS: [number, number][] = [[0x430, 0x44f], [0x410, 0x42f], [0x3b1, 0x3c9], [0x627, 0x64a], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe01, 0xe3a], [0xe0, 0xff], [0x5d0, 0x5ea], [0x900, 0x97f]];

/** A deterministic vocabulary of `size` distinct byte strings shaped like LLaMA-3's (see the file comment). */
export function llama3ShapedVocabulary(size = 128000, seed = 22): Uint8Array[] {
  let s = seed >>> 0 || 1;
  const rand = (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const utf8 = new TextEncoder();
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const add = (bytes: Uint8Array): void => {
    const key = Buffer.from(bytes).toString('latin1');
    if (bytes.length === 0 || seen.has(key) || out.length >= size) return;
    seen.add(key);
    out.push(bytes);
  };
  for (let b = 0; b < 256; b++) add(Uint8Array.of(b));
  for (let n = 0; n < 1000; n++) add(utf8.encode(String(n)));
  for (let n = 0; n < 100; n++) add(utf8.encode(String(n).padStart(2, '0')));
  for (let n = 0; n < 1000; n++) add(utf8.encode(String(n).padStart(3, '0')));
  for (let k = 1; k <= 16; k++) for (const w of [' ', '\n', '\t', '\n ', '\r\n']) add(utf8.encode(w.repeat(k)));
  for (let k = 0; k <= 16; k++) for (const w of ['\n', '\n\n']) add(utf8.encode(w + ' '.repeat(k)));
  // The length histogram, less what the fixed pieces above took.
  const want = LENGTHS.slice();
  for (const p of out) if (p.length <= want.length) want[p.length - 1] = Math.max(0, want[p.length - 1]! - 1);
  const total = want.reduce((a, b) => a + b, 0);
  const drawLength = (): number => {
    let r = rand(total);
    for (let i = 0; i < want.length; i++) if ((r -= want[i]!) < 0) return i + 1;
    return 4;
  };
  const word = (bytes: number): string => {
    let w = '';
    while (w.length < bytes) w += rand(3) === 0 ? VOWELS[rand(VOWELS.length)]! : CONSONANTS[rand(CONSONANTS.length)]! + VOWELS[rand(VOWELS.length)]!;
    return w.slice(0, bytes);
  };
  // Words grow from a pool of stems, so pieces share prefixes as a trained vocabulary's do (" comput", " computer").
  const stems = Array.from({ length: 3000 }, () => word(2 + rand(5)));
  const endings = Array.from({ length: 200 }, () => word(1 + rand(4)));
  const stemmed = (bytes: number): string => {
    let w = stems[rand(stems.length)]!;
    while (w.length < bytes) w += endings[rand(endings.length)]!;
    return w.slice(0, bytes);
  };
  const foreign = (bytes: number): string => {
    const [lo, hi] = SCRIPTS[rand(SCRIPTS.length)]!;
    let w = '';
    while (utf8.encode(w).length < bytes) w += String.fromCodePoint(lo + rand(Math.min(hi - lo + 1, 48))); // common characters recur
    return w;
  };
  while (out.length < size) {
    const len = drawLength();
    const kind = rand(1000);
    let text: string;
    if (kind < 235) text = (rand(2) === 0 ? ' ' : '') + foreign(Math.max(2, len - 1)); // 23.6 % non-ASCII
    else if (kind < 270) text = Array.from({ length: Math.min(len, 4) }, () => PUNCT[rand(PUNCT.length)]!).join(''); // code punctuation, quotes
    else if (kind < 300) text = `${PUNCT[rand(PUNCT.length)]!}${word(Math.max(1, len - 1))}`; // ".STATE", "_book"
    else {
      const space = rand(100) < 58; // 45 % of all pieces are ' ' + a word
      let w = stemmed(Math.max(1, len - (space ? 1 : 0)));
      const c = rand(100);
      if (c < 15) w = w[0]!.toUpperCase() + w.slice(1);
      else if (c < 18) w = w.toUpperCase();
      text = (space ? ' ' : '') + w;
    }
    add(utf8.encode(text));
  }
  return out;
}

/** The pieces of a tiktoken file (one `base64 rank` line per token, as LLaMA 3's tokenizer.model), by rank. */
export async function readTiktokenVocabulary(path: string): Promise<Uint8Array[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TrineError('NOT_FOUND', `--constrain-vocab: cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, { field: 'constrain-vocab' });
  }
  const pieces: Uint8Array[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9+/=]+) (\d+)$/.exec(line.trim());
    if (!m || Number(m[2]) > 1 << 20)
      throw new TrineError('INVALID_ARGUMENT', `--constrain-vocab: line ${i + 1} of ${path} is not 'base64 rank'`, { field: 'constrain-vocab' });
    pieces[Number(m[2])] = new Uint8Array(Buffer.from(m[1]!, 'base64'));
  }
  return pieces;
}
