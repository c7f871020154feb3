/**
 * The token mask: which tokens may come next under a grammar.
 *
 * A matcher state is a set of pushdown stacks over the grammar program (gbnf.ts) plus a partial UTF-8 character.
 * Stacks are interned (equal stacks are one object) and states too, so each state caches its transition on each
 * byte and its mask: inside a JSON string the state after one more character is the same state, and the walk over
 * the vocabulary's byte trie costs one array lookup per trie node. Subtrees the grammar rejects are skipped whole.
 *
 * States are immutable and shared by every sequence with the same grammar and vocabulary; each sequence holds only
 * its current state (continuous batching needs nothing more).
 */
import { ELEMENT, classIntersects, classMatches, type GrammarProgram } from './gbnf.js';

/** The vocabulary's decoded byte strings as a trie in preorder: a rejected node skips to `skip[i]`. */
export interface TokenTrie {
  readonly vocabSize: number;
  /** Per node (preorder, root excluded): its byte, depth (≥ 1), and the index after its subtree. */
  readonly byte: Uint8Array;
  readonly depth: Uint16Array;
  readonly skip: Int32Array;
  /** Tokens spelled exactly by node i: tokens[tokenStart[i] .. tokenStart[i + 1]). */
  readonly tokenStart: Int32Array;
  readonly tokens: Int32Array;
  /** End-of-generation tokens (allowed only where the grammar accepts). */
  readonly eog: Int32Array;
}

/** Builds the trie from each token's bytes (empty pieces — control tokens — never match a grammar). */
export function buildTokenTrie(vocabSize: number, pieceBytes: (id: number) => Uint8Array, eog: readonly number[]): TokenTrie {
  const eogSet = new Set(eog);
  const pieces: Uint8Array[] = [];
  const ids: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    if (eogSet.has(id)) continue;
    const p = pieceBytes(id);
    if (p.length === 0 || p.length > 0xffff) continue;
    pieces[id] = p;
    ids.push(id);
  }
  const cmp = (a: Uint8Array, b: Uint8Array): number => {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  };
  ids.sort((x, y) => cmp(pieces[x]!, pieces[y]!) || x - y);
  const byte: number[] = [];
  const depth: number[] = [];
  const nodeTokens: number[][] = [];
  const path: number[] = []; // node index per depth - 1 along the current path
  let prev: Uint8Array = new Uint8Array(0);
  for (const id of ids) {
    const p = pieces[id]!;
    let common = 0;
    while (common < p.length && common < prev.length && p[common] === prev[common]) common++;
    path.length = common;
    for (let d = common; d < p.length; d++) {
      path.push(byte.length);
      byte.push(p[d]!);
      depth.push(d + 1);
      nodeTokens.push([]);
    }
    nodeTokens[path[p.length - 1]!]!.push(id);
    prev = p;
  }
  const n = byte.length;
  const skip = new Int32Array(n);
  // Preorder: a node's subtree ends at the next node of the same or smaller depth.
  const open: number[] = [];
  for (let i = 0; i < n; i++) {
    while (open.length > 0 && depth[open[open.length - 1]!]! >= depth[i]!) skip[open.pop()!] = i;
    open.push(i);
  }
  for (const i of open) skip[i] = n;
  const tokenStart = new Int32Array(n + 1);
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) {
    tokenStart[i] = tokens.length;
    tokens.push(...nodeTokens[i]!);
  }
  tokenStart[n] = tokens.length;
  return {
    vocabSize,
    byte: Uint8Array.from(byte),
    depth: Uint16Array.from(depth),
    skip,
    tokenStart,
    tokens: Int32Array.from(tokens),
    eog: Int32Array.from(eogSet),
  };
}

/** One interned stack node: a position in the program and what continues after its alternative ends. */
interface StackNode {
  readonly id: number;
  readonly pos: number;
  readonly rest: StackNode | null;
}

/** One interned matcher state. */
export interface MatchState {
  readonly id: number;
  /** Stacks whose top is a character class, sorted by id. */
  readonly stacks: readonly StackNode[];
  /** The grammar may end here (a stack emptied) — only at a character boundary. */
  readonly accepting: boolean;
  /** Continuation bytes still due for the current UTF-8 character (0: at a boundary), the bits so far, its length. */
  readonly need: number;
  readonly bits: number;
  readonly len: number;
  /** Transition per byte: undefined not computed yet, null rejected. */
  next: (MatchState | null | undefined)[] | undefined;
  /** Allowed tokens as a bitset over the vocabulary, cached. */
  mask: Uint32Array | undefined;
  /** The grammar is complete here: nothing but end-of-generation may follow. */
  done: boolean;
  epoch: number;
}

/** Caches stop growing past these (then start afresh: correctness never depends on a cache). */
const MAX_STATES = 4096; // each holds up to 256 transitions
const MAX_NODES = 1 << 20;
const MAX_MASKS = 128; // 16 KiB each at a 128k vocabulary

/** A grammar over one vocabulary: its interned stacks and states, their transitions and masks. */
export class GrammarIndex {
  readonly program: GrammarProgram;
  readonly trie: TokenTrie;
  private nodes = new Map<number, StackNode>();
  private states = new Map<string, MatchState>();
  private masked: MatchState[] = [];
  private nextNodeId = 1;
  private nextStateId = 1;
  private epoch = 0;
  private readonly width: number;
  readonly initial: MatchState;

  constructor(program: GrammarProgram, trie: TokenTrie) {
    this.program = program;
    this.trie = trie;
    this.width = program.kind.length + 1;
    const out: StackNode[] = [];
    let accepting = false;
    for (const start of program.alternatives[program.root]!) accepting = this.expand(start, null, out) || accepting;
    this.initial = this.intern(out, accepting, 0, 0, 0)!;
  }

  private node(pos: number, rest: StackNode | null): StackNode {
    const key = (rest ? rest.id : 0) * this.width + pos;
    let n = this.nodes.get(key);
    if (n === undefined) {
      if (this.nodes.size >= MAX_NODES) this.reset();
      n = { id: this.nextNodeId++, pos, rest };
      this.nodes.set(key, n);
    }
    return n;
  }

  private reset(): void {
    // Live states keep working (they are complete values); only sharing with new ones is lost.
    this.nodes = new Map();
    this.states = new Map();
    for (const s of this.masked) s.mask = undefined;
    this.masked = [];
    this.epoch++;
  }

  /**
   * Pushes every stack reachable from `pos` (with `rest` below) whose top is a character class into `out`;
   * returns whether some alternative ran to the bottom (the grammar may end). No left recursion (gbnf.ts), so
   * this terminates.
   */
  private expand(pos: number, rest: StackNode | null, out: StackNode[]): boolean {
    // A work list, not recursion: a chain of returns (alternatives ending together) is as deep as the output is
    // nested, and the JS stack must not be what bounds it.
    const { kind, arg, alternatives } = this.program;
    const work: (number | StackNode | null)[] = [pos, rest];
    let accepting = false;
    while (work.length > 0) {
      let r = work.pop() as StackNode | null;
      let p = work.pop() as number;
      for (;;) {
        const k = kind[p]!;
        if (k === ELEMENT.chars) {
          const n = this.node(p, r);
          if (!out.includes(n)) out.push(n);
          break;
        }
        if (k === ELEMENT.end) {
          if (r === null) {
            accepting = true;
            break;
          }
          p = r.pos;
          r = r.rest;
          continue;
        }
        // A reference in tail position jumps: nothing of this alternative is left to come back to.
        const below = kind[p + 1] === ELEMENT.end ? r : this.node(p + 1, r);
        const alts = alternatives[arg[p]!]!;
        for (let i = alts.length - 1; i > 0; i--) work.push(alts[i]!, below);
        p = alts[0]!;
        r = below;
      }
    }
    return accepting;
  }

  private intern(stacks: StackNode[], accepting: boolean, need: number, bits: number, len: number): MatchState | null {
    if (stacks.length === 0 && !(accepting && need === 0)) return null;
    stacks.sort((a, b) => a.id - b.id);
    let key = `${need},${bits},${len},${accepting ? 1 : 0}`;
    for (const s of stacks) key += `,${s.id}`;
    let st = this.states.get(key);
    if (st === undefined) {
      if (this.states.size >= MAX_STATES) this.reset();
      st = { id: this.nextStateId++, stacks, accepting, need, bits, len, next: undefined, mask: undefined, done: false, epoch: this.epoch };
      this.states.set(key, st);
    }
    return st;
  }

  /** The state after one more byte, or null where the grammar rejects it. */
  step(s: MatchState, b: number): MatchState | null {
    if (s.epoch !== this.epoch) {
      s.next = undefined;
      s.epoch = this.epoch;
    }
    const cached = s.next?.[b];
    if (cached !== undefined) return cached;
    const t = this.computeStep(s, b);
    (s.next ??= new Array(256))[b] = t;
    return t;
  }

  private computeStep(s: MatchState, b: number): MatchState | null {
    if (s.need === 0) {
      if (b < 0x80) return this.advance(s, b);
      const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
      if (len === 0) return null;
      return this.partial(s, len - 1, b & (0xff >> (len + 1)), len);
    }
    if ((b & 0xc0) !== 0x80) return null;
    const bits = (s.bits << 6) | (b & 0x3f);
    if (s.need > 1) return this.partial(s, s.need - 1, bits, s.len);
    const min = s.len === 2 ? 0x80 : s.len === 3 ? 0x800 : 0x10000;
    if (bits < min || bits > 0x10ffff || (bits >= 0xd800 && bits <= 0xdfff)) return null; // overlong, surrogate
    return this.advance(s, bits);
  }

  /** Mid-character: kept only if some stack's class holds a code point that starts with these bits. */
  private partial(s: MatchState, need: number, bits: number, len: number): MatchState | null {
    // The code points this prefix can still become, without overlong forms (E0 80.. is not U+0000).
    const lo = Math.max(bits << (6 * need), len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000);
    const hi = Math.min((bits << (6 * need)) | ((1 << (6 * need)) - 1), 0x10ffff);
    if (lo > hi) return null;
    // Surrogates (D800–DFFF) are not characters: a prefix that can only become one is dead now, not a step later.
    const parts: [number, number][] = [];
    if (lo < 0xd800) parts.push([lo, Math.min(hi, 0xd7ff)]);
    if (hi > 0xdfff) parts.push([Math.max(lo, 0xe000), hi]);
    const { classes, arg } = this.program;
    const live = s.stacks.filter((n) => parts.some(([a, b]) => classIntersects(classes[arg[n.pos]!]!, a, b)));
    return this.intern(live, false, need, bits, len);
  }

  private advance(s: MatchState, cp: number): MatchState | null {
    const { classes, arg } = this.program;
    const out: StackNode[] = [];
    let accepting = false;
    for (const n of s.stacks) {
      if (classMatches(classes[arg[n.pos]!]!, cp)) accepting = this.expand(n.pos + 1, n.rest, out) || accepting;
    }
    return this.intern(out, accepting, 0, 0, 0);
  }

  /** The state after a token's bytes, or null where the grammar rejects them. */
  consume(s: MatchState, bytes: Uint8Array): MatchState | null {
    let t: MatchState | null = s;
    for (let i = 0; i < bytes.length && t !== null; i++) t = this.step(t, bytes[i]!);
    return t;
  }

  /** Allowed tokens in state `s` (bit i of word i >> 5), end-of-generation included where the grammar may end. */
  mask(s: MatchState): Uint32Array {
    if (s.mask !== undefined && s.epoch === this.epoch) return s.mask;
    const trie = this.trie;
    const mask = new Uint32Array((trie.vocabSize + 31) >>> 5);
    const path: MatchState[] = [s];
    const n = trie.byte.length;
    let any = false;
    for (let i = 0; i < n; ) {
      const d = trie.depth[i]!;
      const t = this.step(path[d - 1]!, trie.byte[i]!);
      if (t === null) {
        i = trie.skip[i]!;
        continue;
      }
      path[d] = t;
      for (let k = trie.tokenStart[i]!, end = trie.tokenStart[i + 1]!; k < end; k++) {
        const id = trie.tokens[k]!;
        mask[id >>> 5]! |= 1 << (id & 31);
        any = true;
      }
      i++;
    }
    const ends = s.accepting && s.need === 0;
    if (ends) for (const id of trie.eog) mask[id >>> 5]! |= 1 << (id & 31);
    s.done = ends && !any;
    s.mask = mask;
    s.epoch = this.epoch;
    this.masked.push(s);
    if (this.masked.length > MAX_MASKS) this.masked.shift()!.mask = undefined;
    return mask;
  }
}

/** One sequence's position in a grammar. */
export class GrammarMatcher {
  private state: MatchState;

  constructor(readonly index: GrammarIndex) {
    this.state = index.initial;
  }

  /** Allowed next tokens as a bitset. */
  allowed(): Uint32Array {
    return this.index.mask(this.state);
  }

  /** Whether the output so far is a complete sentence of the grammar. */
  get accepting(): boolean {
    return this.state.accepting && this.state.need === 0;
  }

  /** Complete, and no token but end-of-generation may follow (valid after `allowed()`). */
  get done(): boolean {
    this.allowed();
    return this.state.done;
  }

  /** Whether no token at all may follow (a vocabulary that cannot spell what the grammar needs). */
  get stuck(): boolean {
    return this.allowed().every((w) => w === 0);
  }

  /** Advances over a generated token's bytes; false (state unchanged) where the grammar rejects them. */
  accept(bytes: Uint8Array): boolean {
    const t = this.index.consume(this.state, bytes);
    if (t === null) return false;
    this.state = t;
    return true;
  }
}

/** Sets every token outside `mask` to -Infinity (`logits` has one entry per vocabulary token). */
export function applyMask(logits: Float32Array | Float64Array, mask: Uint32Array): void {
  for (let w = 0; w < mask.length; w++) {
    const bits = mask[w]!;
    if (bits === 0xffffffff) continue;
    const base = w << 5;
    const end = Math.min(base + 32, logits.length);
    for (let i = base; i < end; i++) if ((bits & (1 << (i - base))) === 0) logits[i] = -Infinity;
  }
}
