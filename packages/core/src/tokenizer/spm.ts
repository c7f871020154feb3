import { Heap } from './heap.js';

interface Bigram {
  score: number;
  left: number;
  right: number;
  /** Combined length (UTF-16 units) when queued; a mismatch later means one side has merged since. */
  size: number;
}

/**
 * SentencePiece-style merging over one escaped fragment (llama.cpp's llm_tokenizer_spm_session): start from single
 * characters, repeatedly merge the adjacent pair whose concatenation is the vocabulary entry with the highest score
 * (leftmost first on ties); symbols left that are not tokens are spelled with `<0xXX>` byte tokens.
 */
export class SpmMerger {
  constructor(
    private readonly tokenToId: ReadonlyMap<string, number>,
    private readonly scores: Float32Array | undefined,
    /** Byte → id of its `<0xXX>` token, -1 where the vocabulary has none. */
    private readonly byteTokens: Int32Array,
    private readonly unkId: number | undefined,
  ) {}

  /** `text` already has spaces replaced by ▁ (and the dummy prefix added). Returns false where a byte had no token. */
  encode(text: string, out: number[]): boolean {
    const chars = Array.from(text);
    const n = chars.length;
    if (n === 0) return true;
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    let offset = 0;
    for (let i = 0; i < n; i++) {
      start[i] = offset;
      len[i] = chars[i]!.length;
      offset += len[i]!;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new Heap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const id = this.tokenToId.get(text.substr(start[left]!, len[left]! + len[right]!));
      if (id === undefined) return;
      heap.push({ score: this.scores?.[id] ?? 0, left, right, size: len[left]! + len[right]! });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b !== undefined; b = heap.pop()) {
      if (len[b.left] === 0 || len[b.right] === 0 || len[b.left]! + len[b.right]! !== b.size) continue;
      len[b.left] = b.size;
      len[b.right] = 0;
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      tryAdd(prev[b.left]!, b.left);
      tryAdd(b.left, next[b.left]!);
    }
    let complete = true;
    const utf8 = new TextEncoder();
    for (let i = 0; i !== -1; i = next[i]!) {
      const piece = text.substr(start[i]!, len[i]!);
      const id = this.tokenToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // Only single characters can get here: every merge produced a vocabulary entry.
      for (const byte of utf8.encode(piece)) {
        const byteId = this.byteTokens[byte]!;
        if (byteId >= 0) out.push(byteId);
        else if (this.unkId !== undefined) out.push(this.unkId);
        else complete = false;
      }
    }
    return complete;
  }
}

/** SentencePiece's visible space. */
export const SPM_SPACE = '\u2581';
