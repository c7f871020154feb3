import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import { compileGbnf } from './gbnf.js';
import { buildTokenTrie, GrammarIndex, GrammarMatcher } from './matcher.js';
import { compileGrammarCached } from './index.js';
import { jsonObjectGrammar, jsonSchemaToGbnf } from './json-schema.js';
import { regexToGbnf } from './regex.js';

const utf8 = new TextEncoder();

/** A matcher over a vocabulary of the given token strings (the last id is end-of-generation). */
function matcherFor(grammar: string, pieces: readonly string[]): { m: GrammarMatcher; eog: number } {
  const bytes = pieces.map((p) => utf8.encode(p));
  const eog = pieces.length;
  const trie = buildTokenTrie(pieces.length + 1, (id) => bytes[id] ?? new Uint8Array(0), [eog]);
  return { m: new GrammarMatcher(new GrammarIndex(compileGbnf(grammar), trie)), eog };
}

const allowedIds = (mask: Uint32Array): number[] => {
  const out: number[] = [];
  for (let i = 0; i < mask.length * 32; i++) if (mask[i >>> 5]! & (1 << (i & 31))) out.push(i);
  return out;
};

/** Whether the grammar accepts `text` whole, fed one character-sized token at a time. */
function accepts(grammar: string, text: string): boolean {
  const chars = [...text];
  const { m } = matcherFor(grammar, chars);
  for (let i = 0; i < chars.length; i++) if (!m.accept(utf8.encode(chars[i]!))) return false;
  return m.accepting;
}

const invalid = (f: () => unknown, field: string, words: string): void => {
  try {
    f();
  } catch (e) {
    expect(TrineError.is(e, 'INVALID_ARGUMENT')).toBe(true);
    expect((e as TrineError).field).toBe(field);
    expect((e as TrineError).message).toContain(words);
    return;
  }
  throw new Error('expected INVALID_ARGUMENT');
};

describe('GBNF grammars', () => {
  it('matches literals, classes, alternation, groups and every repetition form', () => {
    const g = 'root ::= "a" [0-9]+ ("x" | "yz")* "b"? [^q]{2,3} end\nend ::= "!" # a comment\n';
    expect(accepts(g, 'a1x!!!')).toBe(true);
    expect(accepts(g, 'a12xyzbcd!')).toBe(true);
    expect(accepts(g, 'a1cc!')).toBe(true);
    expect(accepts(g, 'a1qc!')).toBe(false);
    expect(accepts(g, 'a1cccc!')).toBe(false);
    expect(accepts(g, 'ab!')).toBe(false);
    expect(accepts('root ::= [a-c]{0,2} "."', '.')).toBe(true);
    expect(accepts('root ::= [a-c]{0,2} "."', 'abc.')).toBe(false);
    expect(accepts('root ::= "é" [\\u4e00-\\u9fff] "\\x41"', 'é日A')).toBe(true);
  });

  it('masks tokens by their whole byte string, multi-character and split UTF-8 tokens included', () => {
    const pieces = ['{', '}', '{}', 'ab', 'a', '"', ' ', '日'];
    const { m, eog } = matcherFor('root ::= "{" "a"* "}"', pieces);
    expect(allowedIds(m.allowed())).toEqual([0, 2]);
    expect(m.accept(utf8.encode('{'))).toBe(true);
    expect(allowedIds(m.allowed())).toEqual([1, 4]); // not "ab": no "b" in the grammar
    expect(m.accept(utf8.encode('}'))).toBe(true);
    // Complete: only end-of-generation, and `done` says nothing else may follow.
    expect(allowedIds(m.allowed())).toEqual([eog]);
    expect(m.done).toBe(true);

    // A token holding the first bytes of a character is allowed where that character may come, and the rest after it.
    const ri = utf8.encode('日');
    const split = matcherFor('root ::= "日本"', ['x']);
    const trie = buildTokenTrie(3, (id) => [ri.subarray(0, 2), Uint8Array.of(ri[2]!, ...utf8.encode('本'))][id] ?? new Uint8Array(0), [2]);
    const sm = new GrammarMatcher(new GrammarIndex(compileGbnf('root ::= "日本"'), trie));
    expect(allowedIds(sm.allowed())).toEqual([0]);
    expect(sm.accept(ri.subarray(0, 2))).toBe(true);
    expect(sm.accepting).toBe(false);
    expect(allowedIds(sm.allowed())).toEqual([1]);
    expect(sm.accept(Uint8Array.of(ri[2]!, ...utf8.encode('本')))).toBe(true);
    expect(sm.done).toBe(true);
    expect(split.m.stuck).toBe(true);
  });

  it('never allows a byte that can only lead to a surrogate or an overlong form', () => {
    const bytes = [Uint8Array.of(0xed), Uint8Array.of(0xa0), Uint8Array.of(0x80), Uint8Array.of(0xe0)];
    const trie = buildTokenTrie(4, (id) => bytes[id]!, []);
    const m = new GrammarMatcher(new GrammarIndex(compileGbnf('root ::= [^"]+'), trie));
    expect(allowedIds(m.allowed())).toEqual([0, 3]);
    expect(m.accept(bytes[0]!)).toBe(true);
    expect(allowedIds(m.allowed())).toEqual([2]); // ED A0.. would be U+D800..; ED 80 is U+D000..
    const e0 = new GrammarMatcher(new GrammarIndex(compileGbnf('root ::= [^"]+'), trie));
    e0.accept(bytes[3]!);
    expect(allowedIds(e0.allowed())).toEqual([1]); // E0 80.. would be overlong
  });

  it('keeps a constant stack inside an unbounded repetition (states are reused)', () => {
    const { m } = matcherFor('root ::= "\\"" [^"]* "\\""', ['"', 'a', 'bb']);
    m.accept(utf8.encode('"'));
    const first = m.allowed();
    for (let i = 0; i < 1000; i++) expect(m.accept(utf8.encode('bb'))).toBe(true);
    expect(m.allowed()).toBe(first); // the same cached mask object: the same interned state
  });

  it('rejects bad grammars with INVALID_ARGUMENT naming the problem', () => {
    invalid(() => compileGbnf('start ::= "a"'), 'grammar', "no 'root'");
    invalid(() => compileGbnf('root ::= foo'), 'grammar', "'foo'");
    invalid(() => compileGbnf('root ::= root "a" | "b"'), 'grammar', 'left-recursive');
    invalid(() => compileGbnf('root ::= ("a"?)*'), 'grammar', 'left-recursive');
    invalid(() => compileGbnf('root ::= "a'), 'grammar', 'unterminated');
    invalid(() => compileGbnf('root ::= "a"{1,99999}'), 'grammar', 'exceeds');
    invalid(() => compileGbnf('root ::= ("a"{4000}){4000}'), 'grammar', 'elements');
    invalid(() => compileGbnf(`root ::= ${'('.repeat(5000)}"a"${')'.repeat(5000)}`), 'grammar', 'deeper');
    invalid(() => regexToGbnf(`${'('.repeat(4000)}a${')'.repeat(4000)}`), 'regex', 'deeper');
    let deep: unknown = { type: 'integer' };
    for (let i = 0; i < 5000; i++) deep = { type: 'array', items: deep };
    invalid(() => jsonSchemaToGbnf(deep), 'json_schema' + '.items'.repeat(64), 'deeper');
  });

  it('follows output nested thousands deep without exhausting the JS stack', () => {
    // Every ")" ends an alternative whose remainder is nullable, so one character pops a long chain at once.
    const { m } = matcherFor('root ::= "(" root ")" opt | "x"\nopt ::= "!"?', ['(', ')', 'x']);
    for (let i = 0; i < 12_000; i++) expect(m.accept(utf8.encode('('))).toBe(true);
    expect(m.accept(utf8.encode('x'))).toBe(true);
    for (let i = 0; i < 12_000; i++) m.accept(utf8.encode(')'));
    expect(m.accepting).toBe(true);
  });
});

describe('regular expressions', () => {
  const re = (pattern: string, text: string): boolean => accepts(`root ::= ${regexToGbnf(pattern)}`, text);
  it('matches as JavaScript does for the supported syntax', () => {
    const cases: [string, string[]][] = [
      ['^[A-Z]{2}-\\d{3,4}$', ['AB-123', 'XY-9999', 'A-123', 'AB-12', 'ab-123']],
      ['(?:cat|dog)s?', ['cat', 'dogs', 'cow', 'cats!']],
      ['\\w+@\\w+\\.com', ['me@x.com', 'me@.com', 'me@xcom']],
      ['a.c', ['abc', 'a\nc', 'ac']],
      ['[^0-9]+\\s\\S', ['ab c', 'a1 c', 'ab  ']],
    ];
    for (const [pattern, texts] of cases) {
      for (const t of texts) expect(re(pattern, t), `${pattern} on ${JSON.stringify(t)}`).toBe(new RegExp(`^(?:${pattern.replace(/^\^|\$$/g, '')})$`).test(t));
    }
  });
  it('names what it does not support', () => {
    invalid(() => regexToGbnf('(a)\\1'), 'regex', 'backreference');
    invalid(() => regexToGbnf('(?=a)'), 'regex', 'lookaround');
    invalid(() => regexToGbnf('a{2'), 'regex', "'{'");
  });
});

describe('JSON Schema to grammar', () => {
  it('names the unsupported keyword and where it is', () => {
    invalid(() => jsonSchemaToGbnf({ type: 'object', properties: { n: { type: 'integer', minimum: 3 } } }), 'json_schema.properties.n.minimum', "'minimum'");
    invalid(() => jsonSchemaToGbnf({ oneOf: [{ type: 'string' }] }), 'json_schema.oneOf', "'oneOf'");
    invalid(() => jsonSchemaToGbnf({ type: 'string', format: 'hostname' }), 'json_schema.format', "'hostname'");
    invalid(() => jsonSchemaToGbnf({ type: 'object', properties: {}, required: ['x'] }), 'json_schema.required', "'x'");
    invalid(() => jsonSchemaToGbnf({ $ref: 'http://example.com/s.json' }), 'json_schema.$ref', 'not supported');
    invalid(() => jsonSchemaToGbnf({ type: 'array', maxItems: 1e9 }), 'json_schema.maxItems', 'integer');
    invalid(() => jsonSchemaToGbnf({ type: 'tuple' }), 'json_schema.type', "'tuple'");
  });
});

describe('compiled grammar cache', () => {
  it('keeps JSON mode however many other grammars pass through it (its mask parts live with its program)', () => {
    const json = compileGrammarCached(jsonObjectGrammar());
    const first = compileGrammarCached('root ::= "a"\n');
    for (let k = 0; k < 40; k++) compileGrammarCached(`root ::= "x${k}"\n`);
    expect(compileGrammarCached(jsonObjectGrammar())).toBe(json);
    expect(compileGrammarCached('root ::= "a"\n')).not.toBe(first); // others are least recently used first
  });
});
