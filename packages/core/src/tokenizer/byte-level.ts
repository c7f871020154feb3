/**
 * GPT-2's reversible byte ↔ unicode table. Byte-level BPE vocabularies spell every byte as one printable code point
 * so merges and tokens stay plain strings: printable Latin-1 bytes map to themselves, the other 68 bytes (controls,
 * space, 0x7F–0xA0, 0xAD) map to U+0100 + n in increasing byte order (so space is "Ġ", newline "Ċ").
 */
function buildTables(): { byteToChar: string[]; charToByte: Map<number, number> } {
  const byteToChar = new Array<string>(256);
  const charToByte = new Map<number, number>();
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const cp = printable(b) ? b : 0x100 + extra++;
    byteToChar[b] = String.fromCodePoint(cp);
    charToByte.set(cp, b);
  }
  return { byteToChar, charToByte };
}

const TABLES = buildTables();

/** Byte → its one-character byte-level spelling. */
export const BYTE_TO_CHAR: readonly string[] = TABLES.byteToChar;

/** The byte a byte-level character stands for, or undefined for characters outside the table. */
export function byteOfChar(codePoint: number): number | undefined {
  return TABLES.charToByte.get(codePoint);
}

const utf8 = new TextEncoder();

/** UTF-8 bytes of `text`, spelled in byte-level characters. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * The bytes a byte-level token spells. A character outside the table (possible only in a hand-made or damaged
 * vocabulary) contributes its own UTF-8 bytes, so decoding never fails.
 */
export function fromByteLevel(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = TABLES.charToByte.get(cp);
    if (b !== undefined) out.push(b);
    else for (const u of utf8.encode(ch)) out.push(u);
  }
  return Uint8Array.from(out);
}
