/**
 * Constrained decoding: a request's `responseFormat` (JSON mode, a JSON Schema, a regular expression or a GBNF
 * grammar) becomes a grammar, compiled once per distinct text, and each sequence gets a `TokenConstraint` that masks
 * the logits before sampling and follows the tokens drawn.
 */
import { invalidArgument, TrineError } from '../errors/index.js';
import type { ResponseFormat } from '../generate/types.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { compileGbnf, type GrammarProgram } from './gbnf.js';
import { jsonObjectGrammar, jsonSchemaToGbnf } from './json-schema.js';
import { buildTokenTrie, GrammarIndex, GrammarMatcher, type TokenTrie } from './matcher.js';
import { regexToGbnf } from './regex.js';

export { compileGbnf, GRAMMAR_LIMITS, type GrammarProgram } from './gbnf.js';
export { jsonObjectGrammar, jsonSchemaToGbnf } from './json-schema.js';
export { regexToGbnf } from './regex.js';
export { applyMask, buildTokenTrie, GrammarIndex, GrammarMatcher, type TokenTrie } from './matcher.js';

/**
 * The GBNF text a response format stands for; undefined for plain text. `fields` names the schema and the pattern
 * in errors as the caller's API spells them (a front whose wire names differ from the engine's).
 */
export function responseFormatGrammar(
  format: ResponseFormat | undefined,
  fields: { readonly schema: string; readonly pattern: string } = { schema: 'response_format.schema', pattern: 'response_format.pattern' },
): string | undefined {
  if (format === undefined) return undefined;
  if (typeof format !== 'object' || format === null) throw invalidArgument('response_format', 'must be an object');
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return jsonObjectGrammar();
    case 'json_schema':
      return jsonSchemaToGbnf(format.schema, fields.schema);
    case 'regex':
      return `root ::= ${regexToGbnf(format.pattern, fields.pattern)}\n`;
    case 'grammar':
      if (typeof format.grammar !== 'string') throw invalidArgument('response_format.grammar', 'must be a string');
      return format.grammar;
    default:
      throw invalidArgument('response_format.type', `'${String((format as { type: unknown }).type)}' is not one of text, json_object, json_schema, regex, grammar`);
  }
}

// Compiled grammars by their text (a Map hashes the key and compares it whole, so no collision can swap grammars).
const COMPILED_MAX = 16;
const compiled = new Map<string, GrammarProgram>();
// JSON mode is the same grammar for every json_object request: kept out of the LRU, so its program, and with it the
// mask parts its GrammarIndex computes per vocabulary, are built once per process however many schemas pass through.
const JSON_MODE = jsonObjectGrammar();
let jsonMode: GrammarProgram | undefined;

/** Compiles GBNF text, or returns the program compiled earlier from the same text. */
export function compileGrammarCached(text: string): GrammarProgram {
  if (text === JSON_MODE) return (jsonMode ??= compileGbnf(text));
  const hit = compiled.get(text);
  if (hit) {
    compiled.delete(text); // most recently used last
    compiled.set(text, hit);
    return hit;
  }
  const program = compileGbnf(text);
  compiled.set(text, program);
  if (compiled.size > COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
  return program;
}

const tries = new WeakMap<Tokenizer, TokenTrie>();
const indexes = new WeakMap<GrammarProgram, WeakMap<TokenTrie, GrammarIndex>>();

/** The vocabulary trie of a tokenizer, built once. */
export function tokenTrie(tokenizer: Tokenizer): TokenTrie {
  let t = tries.get(tokenizer);
  if (!t) {
    t = buildTokenTrie(tokenizer.vocabSize, (id) => tokenizer.pieceBytes(id), tokenizer.eosIds);
    tries.set(tokenizer, t);
  }
  return t;
}

function grammarIndex(program: GrammarProgram, trie: TokenTrie): GrammarIndex {
  let byTrie = indexes.get(program);
  if (!byTrie) indexes.set(program, (byTrie = new WeakMap()));
  let index = byTrie.get(trie);
  if (!index) byTrie.set(trie, (index = new GrammarIndex(program, trie)));
  return index;
}

/** One sequence's constraint: the allowed-token mask now, and the grammar's progress over drawn tokens. */
export class TokenConstraint {
  private readonly matcher: GrammarMatcher;
  constructor(index: GrammarIndex, private readonly pieceBytes: (id: number) => Uint8Array) {
    this.matcher = new GrammarMatcher(index);
  }

  /** Allowed next tokens, a bitset over the vocabulary. */
  allowed(): Uint32Array {
    return this.matcher.allowed();
  }

  /** Follows a drawn token; false if the grammar rejects it (it was masked, so only a caller bug gets here). */
  accept(tokenId: number): boolean {
    return this.matcher.accept(this.pieceBytes(tokenId));
  }

  /** The output is complete and nothing but end-of-generation may follow. */
  get done(): boolean {
    return this.matcher.done;
  }

  /** No token may follow and the output is incomplete: the vocabulary cannot spell what the grammar needs next. */
  get stuck(): boolean {
    return this.matcher.stuck;
  }
}

/** The constraint for a request's response format on this tokenizer (undefined: unconstrained). */
export function createConstraint(format: ResponseFormat | undefined, tokenizer: Tokenizer): TokenConstraint | undefined {
  const text = responseFormatGrammar(format);
  if (text === undefined) return undefined;
  const index = grammarIndex(compileGrammarCached(text), tokenTrie(tokenizer));
  const c = new TokenConstraint(index, (id) => tokenizer.pieceBytes(id));
  if (c.stuck) throw new TrineError('INVALID_ARGUMENT', 'response_format: no token of this vocabulary can start the required output', { field: 'response_format' });
  return c;
}

/** Thrown into a stream whose grammar needs a character no token of the vocabulary spells. */
export function stuckError(): TrineError {
  return new TrineError('UNSUPPORTED', 'response_format: the grammar needs a character no token of this vocabulary spells', { field: 'response_format' });
}
