import { Heap } from './heap.js';
import { toByteLevel } from './byte-level.js';

interface Bigram {
  rank: number;
  left: number;
  /** Combined length when queued; a later mismatch means one side has merged since (sizes only grow). */
  size: number;
}

/**
 * Byte-level BPE over one pre-token (llama.cpp's llm_tokenizer_bpe_session): repeatedly merge the adjacent pair
 * with the lowest merge rank, leftmost first on ties, until no pair has a rank.
 */
export class BpeMerger {
  constructor(
    /** "left right" → rank (index in tokenizer.ggml.merges). */
    private readonly ranks: ReadonlyMap<string, number>,
    private readonly tokenToId: ReadonlyMap<string, number>,
    private readonly ignoreMerges: boolean,
  ) {}

  /** Pre-tokens repeat a lot in real text (words, spaces); their merges are remembered, up to a bound. */
  private readonly cache = new Map<string, readonly number[]>();

  /** One pre-token of plain text. */
  encodePiece(piece: string, out: number[]): void {
    const known = this.cache.get(piece);
    if (known !== undefined) {
      for (const id of known) out.push(id);
      return;
    }
    const from = out.length;
    this.encodeWord(toByteLevel(piece), out);
    if (piece.length <= 64) {
      if (this.cache.size >= 8192) this.cache.clear();
      this.cache.set(piece, out.slice(from));
    }
  }

  /** `word` is a pre-token already spelled in byte-level characters (all in the BMP, one UTF-16 unit each). */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    if (this.ignoreMerges) {
      const whole = this.tokenToId.get(word);
      if (whole !== undefined) {
        out.push(whole);
        return;
      }
    }
    const n = word.length;
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new Heap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const pair = word.substr(start[left]!, len[left]!) + ' ' + word.substr(start[right]!, len[right]!);
      const rank = this.ranks.get(pair);
      if (rank !== undefined) heap.push({ rank, left, size: len[left]! + len[right]! });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b !== undefined; b = heap.pop()) {
      const right = next[b.left]!;
      if (len[b.left] === 0 || right < 0 || len[right] === 0 || len[b.left]! + len[right]! !== b.size) continue;
      len[b.left] = b.size;
      len[right] = 0;
      next[b.left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = b.left;
      tryAdd(prev[b.left]!, b.left);
      tryAdd(b.left, next[b.left]!);
    }
    for (let i = 0; i !== -1; i = next[i]!) {
      const piece = word.substr(start[i]!, len[i]!);
      const id = this.tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // A symbol the vocabulary lacks (merges without their result token): fall back to single characters, as
      // llama.cpp does; characters the vocabulary lacks too are dropped there and here.
      for (const ch of piece) {
        const single = this.tokenToId.get(ch);
        if (single !== undefined) out.push(single);
      }
    }
  }
}

/** Parses `tokenizer.ggml.merges` entries ("left right", split at the first space after the first character). */
export function parseMerge(merge: string): [string, string] | undefined {
  const at = merge.indexOf(' ', 1);
  if (at < 0) return undefined;
  return [merge.slice(0, at), merge.slice(at + 1)];
}
