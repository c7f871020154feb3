/**
 * Constrained decoding, run inside a child process: what the token mask costs per generated token at a 128k
 * vocabulary (model/vocab.ts says which, and why not the bench model's own), for JSON mode, a 20-property schema, a
 * regular expression and a GBNF grammar; the compile time of the schema, cold and as the cached lookup; and the same
 * per-token cost for 8 sequences in one step, each with its own state. No model runs here: run.ts divides by the
 * 2B4T decode step measured in the same run.
 *
 * A token's cost is what the engine pays for it: the mask (`allowed`), setting the logits outside it to -Infinity
 * (`applyMask` on a vocabulary-sized row) and following the drawn token (`accept`). Which token is drawn: the longest
 * allowed piece that spells the next bytes of a valid document (as BPE spells text), so the states are those real
 * output passes through — `cold` on a grammar just compiled (every part computed on first use), `warm` the same
 * documents again (a service sending one schema many times) — and `random`: a seeded uniform draw among the allowed
 * tokens, which reaches states no sensible output does (long pieces, odd splits): the worst case we know how to make.
 *
 * Mask times are CPU time (process.cpuUsage): the work is one thread's, and on a shared host a wall-clock p99 of a
 * sub-millisecond step is mostly other processes' time slices.
 */
import {
  applyMask, buildTokenTrie, compileGbnf, compileGrammarCached, GrammarIndex, GrammarMatcher, jsonObjectGrammar, jsonSchemaToGbnf, regexToGbnf, type TokenTrie,
} from '@trine/core';
import type { ConstrainJob, JobAnswer } from '../jobs.js';
import { llama3ShapedVocabulary, readTiktokenVocabulary } from '../model/vocab.js';
import type { BenchResult } from '../report/schema.js';

/** LLaMA-3's vocabulary size with its 256 special tokens (no bytes: never in a mask but end-of-text). */
const VOCAB_SIZE = 128256;
const END_OF_TEXT = 128001;
const EOT = 128009;

/** Twenty properties: nested objects and arrays, enums, patterns, formats, bounded and free strings. */
export const SCHEMA_20 = {
  type: 'object', additionalProperties: false,
  properties: {
    id: { type: 'integer' }, name: { type: 'string', maxLength: 40 }, email: { type: 'string', pattern: '^[a-z0-9._]+@[a-z0-9]+\\.[a-z]{2,4}$' },
    age: { type: 'integer' }, score: { type: 'number' }, active: { type: 'boolean' }, role: { enum: ['admin', 'user', 'guest', 'owner'] },
    created: { type: 'string', format: 'date-time' }, uuid: { type: 'string', format: 'uuid' }, tags: { type: 'array', items: { type: 'string', maxLength: 12 }, maxItems: 5 },
    address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' }, country: { enum: ['US', 'DE', 'FR', 'JP'] } }, required: ['street', 'city', 'zip', 'country'] },
    phones: { type: 'array', items: { type: 'object', properties: { kind: { enum: ['home', 'work'] }, number: { type: 'string', pattern: '^\\+?[0-9 -]{7,15}$' } }, required: ['kind', 'number'] }, maxItems: 3 },
    notes: { type: 'string' }, rating: { enum: [1, 2, 3, 4, 5] }, verified: { type: 'boolean' }, parent: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
    metrics: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 8 }, status: { const: 'ok' }, locale: { type: 'string', pattern: '^[a-z]{2}-[A-Z]{2}$' },
    extra: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'array', items: { type: 'boolean' } } }, required: ['a'] },
  },
  required: ['id', 'name', 'email', 'age', 'score', 'active', 'role', 'created', 'uuid', 'tags', 'address', 'phones', 'notes', 'rating', 'verified', 'parent', 'metrics', 'status', 'locale', 'extra'],
};

const person = (i: number, notes: string): string =>
  JSON.stringify({
    id: 1000 + i, name: ['Ada Lovelace', 'Grace Hopper', 'Алан Тьюринг', '山田 太郎'][i % 4], email: `user.${i}@example.com`, age: 30 + i, score: 97.25 - i,
    active: i % 2 === 0, role: ['admin', 'user', 'guest', 'owner'][i % 4], created: `2024-0${1 + (i % 9)}-15T10:2${i % 10}:00Z`, uuid: `123e4567-e89b-12d3-a456-42661417400${i % 10}`,
    tags: ['alpha', 'beta', `t${i}`], address: { street: `${i} Main Street`, city: 'Springfield', zip: `0${1000 + i}`.slice(-5).padStart(5, '1'), country: 'DE' },
    phones: [{ kind: 'home', number: `+49 30 123456${i % 10}` }], notes, rating: 1 + (i % 5), verified: true, parent: i % 3 === 0 ? null : i, metrics: [0.5, 12, -3.25e2],
    status: 'ok', locale: 'de-DE', extra: { a: i, b: [true, false] },
  }, null, i % 2 === 0 ? undefined : 2);

const NOTES = [
  'Prefers email. Said: "call after 5pm" — twice.\nFollow up next week.',
  'Customer since 2019; très satisfait. 日本語のメモもあります。',
  'Escalated ticket #4411 (billing). Path C:\\\\users\\\\ada\\\\notes.txt',
  'No notes.',
];

/** The grammars measured, each with documents it accepts. */
function workloads(): { name: string; grammar: string; documents: string[] }[] {
  const regex = '[A-Z][a-z]+ [A-Z][a-z]+, born (19|20)\\d{2}-(0[1-9]|1[0-2])-\\d{2}, works at [A-Za-z ]{2,30} as an? (engineer|doctor|teacher|artist)\\. Contact: [a-z.]+@[a-z]+\\.(com|org|de)';
  const gbnf = `root ::= (stmt "\\n")+
stmt ::= "let " ident " = " expr ";" | "print(" expr ");" | "if " expr " {" ("\\n  " stmt)* "\\n}"
expr ::= term (" " [-+*/<>] " " term)*
term ::= ident | number | string | "(" expr ")" | ident "(" (expr (", " expr)*)? ")"
ident ::= [a-zA-Z_] [a-zA-Z0-9_]{0,31}
number ::= [0-9]+ ("." [0-9]+)?
string ::= "\\"" [^"\\\\\\n]* "\\""
`;
  return [
    { name: 'json', grammar: jsonObjectGrammar(), documents: [person(0, NOTES[0]!), person(1, NOTES[1]!), JSON.stringify({ a: [1, 2, { b: 'c d e', e: [true, null, -1.5e3] }], 'key with spaces': 'value' }, null, 2)] },
    { name: 'schema20', grammar: jsonSchemaToGbnf(SCHEMA_20), documents: NOTES.map((n, i) => person(i, n)) },
    { name: 'regex', grammar: `root ::= ${regexToGbnf(regex)}\n`, documents: ['Ada Lovelace, born 1915-12-10, works at Analytical Engines Ltd as an engineer. Contact: ada.l@example.com', 'Grace Hopper, born 2006-12-09, works at US Navy as a teacher. Contact: grace@navy.org'] },
    { name: 'gbnf', grammar: gbnf, documents: ['let total = price * 1.19;\nif total > limit {\n  print("over the limit: " + total);\n  let total = limit;\n}\nprint(format(total, 2));\n'] },
  ];
}

const encoder = new TextEncoder();

/** The next token: the longest piece allowed by `mask` that spells the document from `at` (a trie walk). */
function nextToken(trie: TokenTrie, mask: Uint32Array, doc: Uint8Array, at: number): number {
  let best = -1;
  let i = 0; // first child of the root
  for (let k = at; k < doc.length && i < trie.byte.length; k++) {
    while (i < trie.byte.length && trie.depth[i] === k - at + 1 && trie.byte[i] !== doc[k]) i = trie.skip[i]!;
    if (i >= trie.byte.length || trie.depth[i] !== k - at + 1) break;
    for (let t = trie.tokenStart[i]!; t < trie.tokenStart[i + 1]!; t++) {
      const id = trie.tokens[t]!;
      if (mask[id >>> 5]! & (1 << (id & 31))) best = id;
    }
    i++;
  }
  return best;
}

/** CPU milliseconds of this process so far. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function percentiles(ms: number[]): { p50: number; p99: number; max: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export async function runConstrainJob(job: ConstrainJob): Promise<JobAnswer> {
  const results: BenchResult[] = [];
  const t0 = performance.now();
  const pieces = job.vocab === 'llama3-shaped' ? llama3ShapedVocabulary() : await readTiktokenVocabulary(job.vocab);
  const vocabLabel = job.vocab === 'llama3-shaped' ? 'llama3-shaped' : 'tiktoken-file';
  const piece = (id: number): Uint8Array => pieces[id] ?? new Uint8Array(0);
  const trie = buildTokenTrie(Math.max(VOCAB_SIZE, pieces.length), piece, [END_OF_TEXT, EOT]);
  const trieMs = performance.now() - t0;
  const logits = new Float32Array(trie.vocabSize);
  const base = { suite: 'constrain' as const, engine: 'trine', backend: 'host', threads: 1 };
  const note = `${vocabLabel} vocabulary: ${pieces.length} pieces, ${trie.byte.length} trie nodes`;
  results.push({ ...base, variant: vocabLabel, shape: 'vocabulary', batch: 1, metric: 'trie_build_ms', value: trieMs, unit: 'ms', higherIsBetter: false, note });
  const row = (shape: string, variant: string, batch: number, ms: number[], what: string): void => {
    const p = percentiles(ms);
    for (const [metric, value] of [['mask_ms_p50', p.p50], ['mask_ms_p99', p.p99], ['mask_ms_max', p.max], ['mask_ms_mean', p.mean]] as const)
      results.push({ ...base, variant, shape, batch, metric, value, unit: 'ms', higherIsBetter: false, note: `${ms.length} ${what}; ${note}` });
  };

  /** One token for one sequence: mask, masked logits, follow the token; its milliseconds, or -1 when done. */
  const step = (m: GrammarMatcher, doc: Uint8Array, at: { pos: number }, pick: (mask: Uint32Array) => number): number => {
    const s = cpuMs();
    const mask = m.allowed();
    applyMask(logits, mask);
    const masked = cpuMs() - s;
    const id = pick(mask); // the sampler's part, not timed
    if (id < 0 || id >= pieces.length) return -1;
    const bytes = piece(id);
    const a = cpuMs();
    if (!m.accept(bytes)) throw new Error(`token ${id} was allowed but not accepted`);
    const ms = masked + cpuMs() - a;
    at.pos += bytes.length;
    return ms;
  };
  const byText = (doc: Uint8Array, at: { pos: number }) => (mask: Uint32Array) => (at.pos >= doc.length ? -1 : nextToken(trie, mask, doc, at.pos));

  for (const w of workloads()) {
    const program = compileGbnf(w.grammar);
    const docs = w.documents.map((d) => encoder.encode(d));
    const index = new GrammarIndex(program, trie);
    for (const variant of ['cold', 'warm']) {
      const ms: number[] = [];
      for (const doc of docs) {
        const m = new GrammarMatcher(index);
        const at = { pos: 0 };
        for (let t; (t = step(m, doc, at, byText(doc, at))) >= 0; ) ms.push(t);
        if (at.pos !== doc.length || !m.accepting) throw new Error(`${w.name}: the document did not parse to its end (at byte ${at.pos} of ${doc.length})`);
      }
      row(w.name, variant, 1, ms, 'tokens of valid documents');
    }
    // Seeded uniform draws among the allowed tokens, on a fresh index.
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const random = new GrammarIndex(program, trie);
    const ms: number[] = [];
    const ids: number[] = [];
    for (let run = 0; run < (job.quick ? 2 : 6); run++) {
      const m = new GrammarMatcher(random);
      const at = { pos: 0 };
      for (let k = 0; k < (job.quick ? 80 : 200); k++) {
        const t = step(m, new Uint8Array(0), at, (mask) => {
          ids.length = 0;
          for (let w = 0; w < mask.length; w++) for (let v = mask[w]!; v !== 0; v &= v - 1) ids.push((w << 5) | (31 - Math.clz32(v & -v)));
          const real = ids.filter((id) => id < pieces.length && piece(id).length > 0);
          return real.length === 0 ? -1 : real[rand(real.length)]!;
        });
        if (t < 0) break;
        ms.push(t);
      }
    }
    row(w.name, 'random', 1, ms, 'tokens drawn at random among the allowed');
  }

  // Compile time of the 20-property schema: schema → GBNF → program (a miss of the cache by text), then the lookup.
  const schemaMs: number[] = [];
  const lookupMs: number[] = [];
  for (let r = 0; r < (job.quick ? 3 : 10); r++) {
    const schema = { ...SCHEMA_20, title: `run ${r} ${Date.now()}` }; // a title changes nothing but the text: a miss
    const c0 = cpuMs();
    const text = jsonSchemaToGbnf(schema);
    const program = compileGrammarCached(text);
    schemaMs.push(cpuMs() - c0);
    if (program.kind.length === 0) throw new Error('empty program');
    for (let k = 0; k < 100; k++) {
      const l0 = performance.now();
      compileGrammarCached(text);
      lookupMs.push(performance.now() - l0);
    }
  }
  const sp = percentiles(schemaMs);
  const lp = percentiles(lookupMs);
  results.push({ ...base, variant: 'cold', shape: 'schema20', batch: 1, metric: 'compile_ms', value: sp.p50, unit: 'ms', higherIsBetter: false, note: `median of ${schemaMs.length}: JSON Schema → GBNF → program; max ${sp.max.toFixed(2)} ms` });
  results.push({ ...base, variant: 'cached', shape: 'schema20', batch: 1, metric: 'compile_ms', value: lp.p50, unit: 'ms', higherIsBetter: false, note: `median of ${lookupMs.length} lookups of the compiled program by its text; p99 ${lp.p99.toFixed(4)} ms` });

  // Batch 8: eight sequences in one step, each its own state (the schema's documents, started a few tokens apart).
  const w = workloads().find((x) => x.name === 'schema20')!;
  const program = compileGbnf(w.grammar);
  for (const variant of ['cold', 'warm']) {
    const index = new GrammarIndex(program, trie);
    if (variant === 'warm') for (const d of w.documents) {
      const m = new GrammarMatcher(index);
      const doc = encoder.encode(d);
      const at = { pos: 0 };
      while (step(m, doc, at, byText(doc, at)) >= 0);
    }
    const seqs = Array.from({ length: 8 }, (_, i) => {
      const doc = encoder.encode(w.documents[i % w.documents.length]!);
      return { m: new GrammarMatcher(index), doc, at: { pos: 0 }, lag: i * 3, done: false };
    });
    const stepMs: number[] = [];
    for (let k = 0; seqs.some((q) => !q.done); k++) {
      let total = 0;
      let running = 0;
      for (const q of seqs) {
        if (q.done || k < q.lag) continue;
        const t = step(q.m, q.doc, q.at, byText(q.doc, q.at));
        if (t < 0) q.done = true;
        else {
          total += t;
          running++;
        }
      }
      if (running === 8) stepMs.push(total);
    }
    row('schema20', variant, 8, stepMs, 'steps of 8 sequences (the mask cost of the whole step)');
  }
  return { results, skipped: [] };
}

/**
 * The mask's cost as a share of one decode step: the 2B4T decode at 1 thread, batch 1, of the same run (its
 * shallowest context), against each batch-1 mask row; batch-8 rows (eight masks) against the same batch-1 step, which
 * overstates their share (a batch-8 step takes longer). The step is wall time (as the decode suite measures it), the
 * mask CPU time: on a loaded host the step stretches and the share reads low.
 */
export function maskShareOfStep(results: readonly BenchResult[]): BenchResult[] {
  const decode = results
    .filter((r) => r.suite === 'decode' && r.engine === 'trine' && r.shape === '2b4t' && r.threads === 1 && r.batch === 1 && r.metric === 'tokens_per_s')
    .sort((a, b) => (a.context ?? 0) - (b.context ?? 0))[0];
  if (!decode) return [];
  const stepMs = 1000 / decode.value;
  const out: BenchResult[] = [
    { suite: 'constrain', engine: 'trine', backend: decode.backend, ...(decode.variant ? { variant: decode.variant } : {}), shape: '2b4t', threads: 1, batch: 1, metric: 'decode_step_ms', value: stepMs, unit: 'ms', higherIsBetter: false, note: `1000 / decode tok/s at context ${decode.context ?? ''}` },
  ];
  for (const r of results) {
    if (r.suite !== 'constrain' || !/^mask_ms_(p50|p99|max)$/.test(r.metric)) continue;
    out.push({ ...r, metric: r.metric.replace('mask_ms', 'pct_of_step'), value: (100 * r.value) / stepMs, unit: '%', note: `of a 2B4T decode step at 1 thread (${stepMs.toFixed(1)} ms wall, ${decode.backend}; the mask's CPU time over the step's wall time, so a busy host, which lengthens the step, reads low)${r.batch > 1 ? `, ${r.batch} masks against a batch-1 step` : ''}` });
  }
  return out;
}
