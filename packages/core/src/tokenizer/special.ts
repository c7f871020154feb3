import { TokenType, type Vocab } from './vocab.js';

/** A stretch of plain text, or the id of a special token matched in the text. */
export type Fragment = string | number;

/**
 * Splits text around special tokens, longest first (llama.cpp's tokenizer_st_partition). Control and unknown tokens
 * are matched only when `parseSpecial` is on; user-defined ones always are, as in llama.cpp.
 */
export function partitionSpecial(text: string, tokens: readonly string[], vocab: Vocab, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = [text];
  for (const id of vocab.specials) {
    if (!parseSpecial && vocab.types[id] !== TokenType.userDefined) continue;
    const needle = tokens[id]!;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f === 'number' || !f.includes(needle)) {
        next.push(f);
        continue;
      }
      let from = 0;
      for (let at = f.indexOf(needle); at >= 0; at = f.indexOf(needle, from)) {
        if (at > from) next.push(f.slice(from, at));
        next.push(id);
        from = at + needle.length;
      }
      if (from < f.length) next.push(f.slice(from));
    }
    fragments = next;
  }
  return fragments;
}
