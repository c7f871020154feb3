import { invalidModelFile } from '../errors/index.js';

/**
 * A strict JSON parser for model-file headers and configs. Unlike JSON.parse it rejects duplicate keys (which
 * JSON.parse and serde silently resolve to the last one: reliability.md case 31) and caps nesting depth and the
 * total number of keys (case 39), so a hostile header cannot steer which value wins or blow the stack.
 */
export interface StrictJsonLimits {
  maxDepth: number;
  maxKeys: number;
}

export const DEFAULT_JSON_LIMITS: StrictJsonLimits = { maxDepth: 64, maxKeys: 1 << 22 };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function parseStrictJson(text: string, field: string, baseOffset = 0, limits: StrictJsonLimits = DEFAULT_JSON_LIMITS): Json {
  let i = 0;
  let keys = 0;
  const fail = (problem: string): never => {
    throw invalidModelFile(field, baseOffset + i, `invalid JSON at character ${i}: ${problem}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const str = (): string => {
    // i is at the opening quote
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(h, 16));
            i += 4;
            break;
          }
          default: fail('bad escape');
        }
        start = i;
      } else {
        i++;
      }
    }
  };
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (depth: number): Json => {
    if (depth > limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [k: string]: Json } = Object.create(null) as { [k: string]: Json };
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const keyAt = i;
        const k = str();
        if (seen.has(k)) {
          i = keyAt;
          fail(`duplicate key ${JSON.stringify(k.slice(0, 64))}`);
        }
        seen.add(k);
        if (++keys > limits.maxKeys) fail(`more than ${limits.maxKeys} keys`);
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) fail('unexpected character');
    i += m![0].length;
    return Number(m![0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters after the JSON value');
  return v;
}

export function isJsonObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
