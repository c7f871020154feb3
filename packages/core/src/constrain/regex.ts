/**
 * A regular expression → a GBNF expression (one rule body). The whole text must match (anchors `^`/`$` at the ends
 * are accepted and implied). Supported: literals, `.`, classes `[...]` / `[^...]`, `\d \w \s \D \W \S`, escapes,
 * groups `(...)` `(?:...)`, `|`, `* + ? {m} {m,} {m,n}` (lazy `?` suffixes read as greedy). Backreferences,
 * lookarounds and named groups are INVALID_ARGUMENT naming them.
 */
import { invalidArgument } from '../errors/index.js';
import { GRAMMAR_LIMITS } from './gbnf.js';

/** A code point spelled for a GBNF literal or class. */
export function gbnfChar(cp: number): string {
  if (cp === 0x22 || cp === 0x5c || cp === 0x5d || cp === 0x5b || cp === 0x2d || cp === 0x5e || cp < 0x20 || cp === 0x7f) {
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return String.fromCodePoint(cp);
}

export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) out += gbnfChar(ch.codePointAt(0)!);
  return out + '"';
}

const CLASS_ESCAPES: Record<string, string> = { d: '0-9', w: 'a-zA-Z0-9_', s: ' \\t\\n\\r\\x0b\\x0c' };

/**
 * Converts `pattern`; `field` names it in errors. `exclude` lists code points `.` and negated classes must not
 * produce (a JSON string's quote and backslash and control characters).
 */
export function regexToGbnf(pattern: string, field = 'regex', exclude = ''): string {
  if (typeof pattern !== 'string') throw invalidArgument(field, 'must be a string');
  if (pattern.length > 10_000) throw invalidArgument(field, 'is longer than 10000 characters');
  let i = 0;
  let depth = 0;
  const s = pattern;
  const fail = (problem: string): never => {
    throw invalidArgument(field, `${problem} (at offset ${i} of /${pattern}/)`);
  };
  if (s[0] === '^') i++;
  const end = s.endsWith('$') && !s.endsWith('\\$') ? s.length - 1 : s.length;

  const escape = (inClass: boolean): string => {
    const e = s[i + 1];
    i += 2;
    if (e === undefined) return fail('a trailing backslash');
    if (e in CLASS_ESCAPES) return inClass ? CLASS_ESCAPES[e]! : `[${CLASS_ESCAPES[e]!}]`;
    if (e === 'D' || e === 'W' || e === 'S') {
      if (inClass) return fail(`\\${e} inside a class is not supported`);
      return `[^${CLASS_ESCAPES[e.toLowerCase()]!}${exclude}]`;
    }
    if (/[1-9k]/.test(e)) return fail(`backreference \\${e} is not supported`);
    if (e === 'b' || e === 'B') return fail(`word boundary \\${e} is not supported`);
    const named: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, '0': 0 };
    let cp: number;
    if (e in named) cp = named[e]!;
    else if (e === 'x' || e === 'u') {
      const w = e === 'x' ? 2 : 4;
      const hex = s.slice(i, i + w);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== w) return fail(`bad \\${e} escape`);
      i += w;
      cp = parseInt(hex, 16);
    } else if (/[a-zA-Z]/.test(e)) return fail(`escape \\${e} is not supported`);
    else cp = e.codePointAt(0)!;
    return inClass ? gbnfChar(cp) : `"${gbnfChar(cp)}"`;
  };

  const klass = (): string => {
    i++; // [
    let out = '[';
    if (s[i] === '^') {
      out += '^';
      i++;
    }
    const negated = out === '[^';
    let first = true;
    while (i < end && (s[i] !== ']' || first)) {
      first = false;
      if (s[i] === '\\') out += escape(true);
      else if (s[i] === '-' && out.length > (negated ? 2 : 1) && s[i + 1] !== ']') {
        out += '-';
        i++;
      } else {
        const cp = s.codePointAt(i)!;
        out += gbnfChar(cp);
        i += cp > 0xffff ? 2 : 1;
      }
    }
    if (s[i] !== ']') fail('an unterminated character class');
    i++;
    return out + (negated ? exclude : '') + ']';
  };

  const alternation = (): string => {
    const alts = [sequence()];
    while (s[i] === '|') {
      i++;
      alts.push(sequence());
    }
    return alts.length === 1 ? alts[0]! : `(${alts.join(' | ')})`;
  };
  const sequence = (): string => {
    const parts: string[] = [];
    while (i < end && s[i] !== '|' && s[i] !== ')') {
      let atom: string;
      const c = s[i]!;
      if (c === '(') {
        if (s[i + 1] === '?') {
          if (s[i + 2] !== ':') fail(`group syntax (?${s[i + 2] ?? ''} (lookaround or named group) is not supported`);
          i += 3;
        } else i++;
        if (++depth > GRAMMAR_LIMITS.maxNesting) fail(`groups nest deeper than ${GRAMMAR_LIMITS.maxNesting}`);
        atom = `(${alternation()})`;
        depth--;
        if (s[i] !== ')') fail("a missing ')'");
        i++;
      } else if (c === '[') atom = klass();
      else if (c === '.') {
        atom = `[^\\n${exclude}]`;
        i++;
      } else if (c === '\\') atom = escape(false);
      else if (c === '*' || c === '+' || c === '?' || c === '{') return fail(`'${c}' follows nothing`);
      else if (c === '^' || c === '$') return fail(`anchor '${c}' inside the pattern is not supported`);
      else {
        const cp = s.codePointAt(i)!;
        atom = `"${gbnfChar(cp)}"`;
        i += cp > 0xffff ? 2 : 1;
      }
      // Quantifier
      const q = s[i];
      if (q === '*' || q === '+' || q === '?') {
        atom += q;
        i++;
      } else if (q === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i, i + 24));
        if (m) {
          if (Number(m[1]) > GRAMMAR_LIMITS.maxRepeat || (m[3] && Number(m[3]) > GRAMMAR_LIMITS.maxRepeat)) fail(`repetition ${m[0]} exceeds ${GRAMMAR_LIMITS.maxRepeat}`);
          atom += m[0];
          i += m[0].length;
        } else fail("a '{' that is not a repetition {m}, {m,} or {m,n}");
      }
      if (s[i] === '?' && /[*+?}]$/.test(atom)) i++; // lazy: same language
      parts.push(atom);
    }
    return parts.length === 0 ? '""' : parts.join(' ');
  };
  const body = alternation();
  if (i < end) fail(`unexpected '${s[i]}'`);
  return body;
}
