/**
 * The mask from precomputed parts (GrammarIndex.mask) against one plain walk of the whole trie (plainMask), and that
 * walk (which takes subtrees whole) against following every token on its own, over many states of many grammars:
 * property-based, the walk through each grammar drawn by fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGbnf } from './gbnf.js';
import { jsonObjectGrammar, jsonSchemaToGbnf } from './json-schema.js';
import { buildTokenTrie, GrammarIndex, type MatchState, type TokenTrie } from './matcher.js';
import { regexToGbnf } from './regex.js';

const utf8 = new TextEncoder();

/**
 * A vocabulary with what makes masks hard: every single byte (split UTF-8 included), JSON punctuation glued to
 * quotes and words, escapes, digits, whitespace runs, multi-byte characters whole and cut.
 */
function vocabulary(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) out.push(Uint8Array.of(b));
  const words = ['a', 'id', 'name', 'true', 'false', 'null', 'admin', 'user', 'red', 'x', 'abc', 'tags', 'Hello', 'key', 'value', 'ok', 'e', 'E'];
  const glue = ['', ' ', '"', '":', '": ', '",', '", "', '{"', '["', '"}', '"]', ':', ',', '{', '}', '[', ']', '\\', '\\"', '\\n', '\n', '  ', '-', '.', '@', '_'];
  for (const w of words) for (const g of glue) out.push(utf8.encode(`${g}${w}`), utf8.encode(`${w}${g}`));
  for (let n = 0; n < 1000; n += 7) out.push(utf8.encode(String(n)), utf8.encode(`${n}.`), utf8.encode(` ${n}`));
  // Multi-byte words glued like the ASCII ones, so subtrees big enough to be taken whole hold whole and cut characters.
  for (const w of ['é', 'über', 'Ж', 'Жук', '日本', 'ñandú', 'ça', '€']) for (const g of glue) out.push(utf8.encode(`${g}${w}`), utf8.encode(`${w}${g}`));
  // And bytes that are not UTF-8 where they stand (a continuation byte after ASCII, a lead byte before it): a subtree
  // holding them must not be taken whole.
  for (let k = 1; k <= 20; k++) out.push(utf8.encode(`zq${'x'.repeat(k)}`), utf8.encode(`zr${'y'.repeat(k)}`));
  out.push(Uint8Array.of(...utf8.encode('zqxx'), 0xa9), Uint8Array.of(...utf8.encode('zry'), 0xc3, ...utf8.encode('yy')));
  for (const s of ['{}', '[]', '{\n', '}\n', '},', '],', '  "', '\t', '    ', ' \n', '\\u00', 'é', 'über', '日本', ' 日', 'Ж', 'ü"', '😀', 'a😀"']) out.push(utf8.encode(s));
  const ri = utf8.encode('日');
  out.push(ri.subarray(0, 2), Uint8Array.of(ri[2]!), Uint8Array.of(0xe6, 0x97)); // a character cut across tokens
  return out;
}

const PIECES = vocabulary();
const EOG = PIECES.length;
const TRIE: TokenTrie = buildTokenTrie(PIECES.length + 1, (id) => PIECES[id] ?? new Uint8Array(0), [EOG]);

/** Twenty properties: nested objects and arrays, enums, patterns, formats, bounded strings, anyOf. */
const SCHEMA20 = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, name: { type: 'string', maxLength: 8 }, code: { type: 'string', pattern: '^[A-Z]{2}-\\d{2}$' },
    ok: { type: 'boolean' }, ratio: { type: 'number' }, role: { enum: ['admin', 'user', 'red'] }, day: { type: 'string', format: 'date' },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 },
    owner: { type: 'object', properties: { key: { type: 'string' }, n: { type: 'integer' } }, required: ['key'] },
    list: { type: 'array', items: { type: 'object', properties: { a: { enum: [1, 2, null] } }, required: ['a'] }, maxItems: 2 },
    note: { type: 'string' }, level: { enum: [1, 2, 3] }, flag: { type: 'boolean' }, parent: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
    nums: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 3 }, version: { const: 'v1' },
    mail: { type: 'string', pattern: '^[a-z]+@[a-z]+\\.[a-z]{2,3}$' }, uuid: { type: 'string', format: 'uuid' },
    extra: { type: 'object', additionalProperties: { type: 'integer' } }, any: true,
  },
  required: ['id', 'name', 'code', 'ok', 'ratio', 'role', 'day', 'tags', 'owner', 'list', 'note', 'level', 'flag', 'parent', 'nums', 'version', 'mail', 'uuid', 'extra', 'any'],
};

const GRAMMARS: Record<string, string> = {
  'JSON object': jsonObjectGrammar(),
  '20-property schema': jsonSchemaToGbnf(SCHEMA20),
  regex: `root ::= ${regexToGbnf('(\\w+[ ,.]){1,6}"[^"]{0,12}"\\s?[A-Z][a-z]{1,5}-\\d{2,4}(é|日本)?')}\n`,
  'GBNF grammar': 'root ::= stmt+\nstmt ::= id " "? "=" " "? expr ";" "\\n"\nexpr ::= term (" "? [-+*/] " "? term)*\nterm ::= id | [0-9]+ | "(" expr ")" | "\\"" ([^"\\\\] | "\\\\" ["n])* "\\""\nid ::= [a-zA-Z_] [a-zA-Z0-9_]{0,6}\n',
};

/** The allowed tokens by following each one's bytes from `s`: what the trie walks must equal. */
const byEachToken = (index: GrammarIndex, s: MatchState): number[] => {
  const ids = PIECES.flatMap((p, id) => (p.length > 0 && index.consume(s, p) !== null ? [id] : []));
  return s.accepting && s.need === 0 ? [...ids, EOG] : ids;
};

const allowed = (mask: Uint32Array): number[] => {
  const ids: number[] = [];
  for (let w = 0; w < mask.length; w++) for (let v = mask[w]!; v !== 0; v &= v - 1) ids.push((w << 5) | (31 - Math.clz32(v & -v)));
  return ids;
};

describe('precomputed mask parts', () => {
  for (const [name, text] of Object.entries(GRAMMARS)) {
    it(`give the plain walk's mask in every state reached: ${name}`, () => {
      const program = compileGbnf(text);
      const shared = new GrammarIndex(program, TRIE); // parts cached across runs, as in serving
      let states = 0;
      fc.assert(
        fc.property(fc.array(fc.nat(), { minLength: 30, maxLength: 80 }), fc.boolean(), (choices, fresh) => {
          const index = fresh ? new GrammarIndex(program, TRIE) : shared;
          let s = index.initial;
          for (const c of choices) {
            const plain = index.plainMask(s);
            expect(Array.from(index.mask(s))).toEqual(Array.from(plain));
            expect(allowed(plain)).toEqual(byEachToken(index, s));
            states++;
            const ids = allowed(plain).filter((id) => id !== EOG);
            if (ids.length === 0) return;
            const next = index.consume(s, PIECES[ids[c % ids.length]!]!);
            expect(next).not.toBeNull(); // an allowed token is always accepted
            s = next!;
          }
        }),
        { numRuns: 60, seed: 22 },
      );
      expect(states).toBeGreaterThan(400); // the runs did walk far
    });
  }

  it('keeps end-of-generation and done as the plain walk sets them', () => {
    const index = new GrammarIndex(compileGbnf('root ::= "{" [a-z]* "}"'), TRIE);
    const s = index.consume(index.initial, utf8.encode('{abc}'))!;
    expect(allowed(index.mask(s))).toEqual([EOG]);
    expect(s.done).toBe(true);
    const open = index.consume(index.initial, utf8.encode('{ab'))!;
    const ids = allowed(index.mask(open));
    expect(ids).not.toContain(EOG);
    expect(open.done).toBe(false);
    expect(ids).toContain(PIECES.findIndex((p) => p.length === 1 && p[0] === 0x7d)); // '}'
  });
});
