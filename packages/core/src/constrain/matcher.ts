/**
 * The token mask: which tokens may come next under a grammar.
 *
 * A matcher state is a set of pushdown stacks over the grammar program (gbnf.ts) plus a partial UTF-8 character.
 * Stacks are interned (equal stacks are one object) and states too, so each state caches its transition on each
 * byte and its mask: inside a JSON string the state after one more character is the same state, and the walk over
 * the vocabulary's byte trie costs one array lookup per trie node. Subtrees the grammar rejects are skipped whole, and
 * a large subtree whose every byte leads to one live state (string characters) is taken whole.
 *
 * A new state's mask is not one walk over the whole trie: it is the union of precomputed parts, one per distinct top
 * three frames of its stacks, plus a walk of the few subtrees that reach below those frames (xgrammar's split of
 * context-independent and context-dependent tokens; docs/decisions/constrained-mask.md).
 *
 * States are immutable and shared by every sequence with the same grammar and vocabulary; each sequence holds only
 * its current state (continuous batching needs nothing more).
 */
import { ELEMENT, classCovers, classIntersects, classMatches, type GrammarProgram } from './gbnf.js';

/** The vocabulary's decoded byte strings as a trie in preorder: a rejected node skips to `skip[i]`. */
export interface TokenTrie {
  readonly vocabSize: number;
  /** Per node (preorder, root excluded): its byte, depth (≥ 1), and the index after its subtree. */
  readonly byte: Uint8Array;
  readonly depth: Uint16Array;
  readonly skip: Int32Array;
  /** The deepest node's depth: the longest token in bytes. */
  readonly maxDepth: number;
  /** Per node: its parent's index (-1 under the root), to spell a node's prefix. */
  readonly parent: Int32Array;
  /**
   * Per node with a subtree of at least SPAN_MIN nodes: the offset in `spanBytes` of the 8-word set of the bytes in
   * its subtree (-1 for smaller ones), so a walk can take a whole subtree at once where every one of them loops.
   */
  readonly spanAt: Int32Array;
  readonly spanBytes: Uint32Array;
  /** Per such subtree (index spanAt / 8): how many bytes its longest token spells below the parent. */
  readonly spanHeight: Uint16Array;
  /**
   * Per such subtree: 1 when its parent's prefix ends at a character boundary and every byte below is well-formed
   * UTF-8 from there (lead bytes at boundaries, continuation bytes only where due; a token may end mid-character), so
   * a walk may check it a character at a time rather than a byte at a time.
   */
  readonly spanUtf8: Uint8Array;
  /** Per node: the characters its prefix starts (bytes that are not UTF-8 continuation bytes). */
  readonly charDepth: Uint16Array;
  /** Tokens spelled exactly by node i: tokens[tokenStart[i] .. tokenStart[i + 1]). */
  readonly tokenStart: Int32Array;
  readonly tokens: Int32Array;
  /** End-of-generation tokens (allowed only where the grammar accepts). */
  readonly eog: Int32Array;
}

/** Subtrees smaller than this are walked node by node (the byte sets of bigger ones are kept). */
const SPAN_MIN = 16;

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
  const parent = new Int32Array(n);
  // Preorder: a node's subtree ends at the next node of the same or smaller depth.
  const open: number[] = [];
  for (let i = 0; i < n; i++) {
    while (open.length > 0 && depth[open[open.length - 1]!]! >= depth[i]!) skip[open.pop()!] = i;
    parent[i] = open.length > 0 ? open[open.length - 1]! : -1;
    open.push(i);
  }
  for (const i of open) skip[i] = n;
  // Per node: continuation bytes still due after its prefix (0: at a boundary), or -1 once the prefix is not UTF-8.
  const due = new Int8Array(n);
  const charDepth = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const before = parent[i]! < 0 ? 0 : due[parent[i]!]!;
    const b = byte[i]!;
    charDepth[i] = (parent[i]! < 0 ? 0 : charDepth[parent[i]!]!) + ((b & 0xc0) === 0x80 ? 0 : 1);
    if (before < 0) due[i] = -1;
    else if (before > 0) due[i] = (b & 0xc0) === 0x80 ? before - 1 : -1;
    else due[i] = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
  }
  const spanAt = new Int32Array(n).fill(-1);
  let spans = 0;
  for (let i = 0; i < n; i++) if (skip[i]! - i >= SPAN_MIN) spanAt[i] = 8 * spans++;
  const spanBytes = new Uint32Array(8 * spans);
  const spanHeight = new Uint16Array(spans);
  const spanUtf8 = new Uint8Array(spans);
  for (let i = 0; i < n; i++) {
    const at = spanAt[i]!;
    if (at < 0) continue;
    let deepest = 0;
    let wellFormed = parent[i]! < 0 || due[parent[i]!] === 0;
    for (let j = i; j < skip[i]!; j++) {
      spanBytes[at + (byte[j]! >>> 5)]! |= 1 << (byte[j]! & 31);
      deepest = Math.max(deepest, depth[j]!);
      if (due[j]! < 0) wellFormed = false;
    }
    spanHeight[at >>> 3] = deepest - depth[i]! + 1;
    spanUtf8[at >>> 3] = wellFormed ? 1 : 0;
  }
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
    maxDepth: depth.reduce((a, d) => Math.max(a, d), 0),
    parent,
    spanAt,
    spanBytes,
    spanHeight,
    spanUtf8,
    charDepth,
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
  /** A truncated stack (see `part`) ran below its cut here: what follows depends on the frames cut off. */
  readonly escaped: boolean;
  /**
   * Continuation bytes still due for the current UTF-8 character (0: at a boundary), the bits so far (-1: any
   * completion is a valid character every stack takes, so the bits no longer matter), its length.
   */
  readonly need: number;
  readonly bits: number;
  readonly len: number;
  /** Transition per byte: undefined not computed yet, null rejected. */
  next: (MatchState | null | undefined)[] | undefined;
  /**
   * Bytes known to lead to the one state `uniformTo` (words 0–7) and known not to (8–15), known rejected (16–23)
   * and known not to be (24–31), learnt where large subtrees are walked: inside a string every ordinary character
   * leads to the same state (itself, or the next count).
   * At a boundary a lead byte stands for its whole character (`uniformOver`).
   */
  uniform: Uint32Array | undefined;
  uniformTo: MatchState | null | undefined;
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
/** Frames of a stack its precomputed part looks at (see `part`); deeper frames are cut. */
const PART_FRAMES = 3;
/** Bytes the precomputed parts of one grammar and vocabulary may hold (least recently used go first). */
const PART_BUDGET = 8 << 20;

/**
 * What the top frames of one stack decide about every token, whatever lies below them: `accepted` tokens (a bitset,
 * or their ids when fewer than its words) are allowed in any context; tokens under the trie nodes in `uncertain` ran
 * out of the frames and are checked against the whole state; every other token is rejected.
 */
interface MaskPart {
  readonly accepted: Uint32Array | Int32Array;
  readonly dense: boolean;
  readonly uncertain: Int32Array;
  readonly bytes: number;
}
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
  private readonly words: number;
  /** The trie's longest token in bytes, plus one: the states along one walk. */
  private readonly height: number;
  /** Stands for the frames a truncated stack cut off; popping into it sets `escaped`. */
  private readonly bottom: StackNode;
  /** Precomputed parts by the positions of their frames (not node ids, so they outlive `reset`), oldest first. */
  private parts = new Map<string, MaskPart>();
  private partBytes = 0;
  readonly initial: MatchState;

  constructor(program: GrammarProgram, trie: TokenTrie) {
    this.program = program;
    this.trie = trie;
    this.width = program.kind.length + 1;
    this.words = (trie.vocabSize + 31) >>> 5;
    this.height = trie.maxDepth + 1;
    this.bottom = { id: this.nextNodeId++, pos: -1, rest: null };
    const out: StackNode[] = [];
    let flags = 0;
    for (const start of program.alternatives[program.root]!) flags |= this.expand(start, null, out);
    this.initial = this.intern(out, (flags & 1) !== 0, 0, 0, 0)!;
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
   * returns 1 when some alternative ran to the bottom (the grammar may end), | 2 when one popped into `bottom`. No
   * left recursion (gbnf.ts), so this terminates.
   */
  private expand(pos: number, rest: StackNode | null, out: StackNode[]): number {
    // A work list, not recursion: a chain of returns (alternatives ending together) is as deep as the output is
    // nested, and the JS stack must not be what bounds it.
    const { kind, arg, alternatives } = this.program;
    const work: (number | StackNode | null)[] = [pos, rest];
    let flags = 0;
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
            flags |= 1;
            break;
          }
          if (r === this.bottom) {
            flags |= 2;
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
    return flags;
  }

  private intern(stacks: StackNode[], accepting: boolean, need: number, bits: number, len: number, escaped = false): MatchState | null {
    if (stacks.length === 0 && !(accepting && need === 0) && !escaped) return null;
    stacks.sort((a, b) => a.id - b.id);
    let key = `${need},${bits},${len},${accepting ? 1 : 0}${escaped ? 'e' : ''}`;
    for (const s of stacks) key += `,${s.id}`;
    let st = this.states.get(key);
    if (st === undefined) {
      if (this.states.size >= MAX_STATES) this.reset();
      st = { id: this.nextStateId++, stacks, accepting, escaped, need, bits, len, next: undefined, uniform: undefined, uniformTo: undefined, mask: undefined, done: false, epoch: this.epoch };
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
    if (s.bits === -1) return s.need > 1 ? this.intern([...s.stacks], false, s.need - 1, -1, s.len) : this.advance(s, -1);
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
    // Inside a string every non-ASCII character is as good as any other: one state for all of them, not one per
    // prefix (a 128k vocabulary spells thousands of distinct prefixes).
    const first = bits << (6 * need);
    const last = first | ((1 << (6 * need)) - 1);
    const valid = first >= (len === 2 ? 0x80 : len === 3 ? 0x800 : 0x10000) && last <= 0x10ffff && (last < 0xd800 || first > 0xdfff);
    if (valid && live.every((n) => classCovers(classes[arg[n.pos]!]!, first, last))) return this.intern(live, false, need, -1, len);
    return this.intern(live, false, need, bits, len);
  }

  /** Past one whole character `cp` (-1: one every stack takes). */
  private advance(s: MatchState, cp: number): MatchState | null {
    const { classes, arg } = this.program;
    const out: StackNode[] = [];
    let flags = 0;
    for (const n of s.stacks) {
      if (cp === -1 || classMatches(classes[arg[n.pos]!]!, cp)) flags |= this.expand(n.pos + 1, n.rest, out);
    }
    return this.intern(out, (flags & 1) !== 0, 0, 0, 0, (flags & 2) !== 0);
  }

  /** The state after a token's bytes, or null where the grammar rejects them. */
  consume(s: MatchState, bytes: Uint8Array): MatchState | null {
    let t: MatchState | null = s;
    for (let i = 0; i < bytes.length && t !== null; i++) t = this.step(t, bytes[i]!);
    return t;
  }

  /**
   * Allowed tokens in state `s` (bit i of word i >> 5), end-of-generation included where the grammar may end.
   *
   * A state's mask is the union of its stacks' masks, and what a stack allows depends mostly on its top frames: each
   * stack's `part` (precomputed once per top frames, cached) gives the tokens those frames accept in any context and
   * the few trie subtrees that reach below them, which alone are walked against the whole state here.
   */
  mask(s: MatchState): Uint32Array {
    if (s.mask !== undefined && s.epoch === this.epoch) return s.mask;
    const trie = this.trie;
    const mask = new Uint32Array(this.words);
    if (s.need !== 0) {
      // Mid-character (after a token that split one): parts start at a character boundary, so walk it whole.
      this.walk([s], 0, trie.byte.length, mask);
    } else {
      // Stacks that differ only below their top frames share a part: each is added once.
      const parts = new Set<MaskPart>();
      let count = 0;
      for (const top of s.stacks) {
        const part = this.part(top);
        if (parts.has(part)) continue;
        parts.add(part);
        const acc = part.accepted;
        if (part.dense) for (let w = 0; w < acc.length; w++) mask[w]! |= acc[w]!;
        else for (let k = 0; k < acc.length; k++) mask[acc[k]! >>> 5]! |= 1 << (acc[k]! & 31);
        count += part.uncertain.length;
      }
      const roots = new Int32Array(count);
      count = 0;
      for (const part of parts) {
        roots.set(part.uncertain, count);
        count += part.uncertain.length;
      }
      roots.sort(); // numeric: a typed array's own order
      // Roots come in preorder, so their prefixes share ancestors: the state after each ancestor is kept by depth
      // (it depends on the node alone), and only the part of a prefix not seen yet is stepped.
      const { parent, depth, byte, skip } = trie;
      const atNode: number[] = [];
      const after: (MatchState | null)[] = [];
      const fresh: number[] = [];
      // One path for every root (a walk writes a depth before it reads below it): a grammar whose parts leave
      // hundreds of uncertain subtrees would otherwise allocate one per subtree per mask.
      const path: MatchState[] = new Array<MatchState>(this.height).fill(s);
      let covered = 0; // a root inside a subtree walked already is covered by it
      for (const r of roots) {
        if (r < covered) continue;
        covered = skip[r]!;
        let nf = 0;
        let p = parent[r]!;
        while (p >= 0 && atNode[depth[p]!] !== p) {
          fresh[nf++] = p;
          p = parent[p]!;
        }
        let t: MatchState | null = p < 0 ? s : after[depth[p]!]!;
        for (let k = nf - 1; k >= 0; k--) {
          const a = fresh[k]!;
          if (t !== null) t = this.step(t, byte[a]!);
          atNode[depth[a]!] = a;
          after[depth[a]!] = t;
        }
        if (t === null) continue;
        path[depth[r]! - 1] = t;
        this.walk(path, r, covered, mask);
      }
    }
    return this.finish(s, mask);
  }

  /** The mask by one walk over the whole trie, without precomputed parts: what `mask` must equal (tests, bench). */
  plainMask(s: MatchState): Uint32Array {
    const mask = new Uint32Array(this.words);
    this.walk([s], 0, this.trie.byte.length, mask);
    return this.finish(s, mask, false);
  }

  /** Adds end-of-generation where the grammar may end, sets `done`, caches the mask on the state. */
  private finish(s: MatchState, mask: Uint32Array, cache = true): Uint32Array {
    let any = false;
    for (let w = 0; w < mask.length && !any; w++) any = mask[w] !== 0;
    const ends = s.accepting && s.need === 0;
    if (ends) for (const id of this.trie.eog) mask[id >>> 5]! |= 1 << (id & 31);
    s.done = ends && !any;
    if (!cache) return mask;
    s.mask = mask;
    s.epoch = this.epoch;
    this.masked.push(s);
    if (this.masked.length > MAX_MASKS) this.masked.shift()!.mask = undefined;
    return mask;
  }

  /**
   * Sets the bits of the tokens under trie nodes [from, to) that the grammar accepts, `path[depth(from) - 1]` being
   * the state before node `from`; a rejected node's subtree is skipped whole.
   */
  private walk(path: MatchState[], from: number, to: number, mask: Uint32Array): void {
    const { byte, depth, skip, tokenStart, tokens, spanAt } = this.trie;
    for (let i = from; i < to; ) {
      const d = depth[i]!;
      const prev = path[d - 1]!;
      const alive = spanAt[i]! >= 0 ? this.aliveDepth(prev, i) : -1;
      if (alive === Infinity) {
        for (let k = tokenStart[i]!, end = tokenStart[skip[i]!]!; k < end; k++) mask[tokens[k]! >>> 5]! |= 1 << (tokens[k]! & 31);
        i = skip[i]!;
        continue;
      }
      if (alive >= 0) {
        this.takeShallow(i, alive, mask);
        i = skip[i]!;
        continue;
      }
      const b = byte[i]!;
      let t = prev.epoch === this.epoch ? prev.next?.[b] : undefined;
      if (t === undefined) t = this.step(prev, b);
      if (t === null) {
        i = skip[i]!;
        continue;
      }
      path[d] = t;
      for (let k = tokenStart[i]!, end = tokenStart[i + 1]!; k < end; k++) {
        const id = tokens[k]!;
        mask[id >>> 5]! |= 1 << (id & 31);
      }
      i++;
    }
  }

  /**
   * How deep every token in the subtree of trie node `i` (one with a byte set) is alive from `s`: Infinity where each
   * of its bytes leads from `s` to one state, and from that one on, as deep as the subtree goes; at a character
   * boundary over a well-formed subtree a step is a whole character (a multi-byte one through its partial states), so
   * a subtree of string characters is taken whole, non-ASCII ones included. A count m ≥ 0 where that holds for m
   * characters and then every byte of the subtree is rejected (a bounded string at its last character): the tokens
   * of at most m characters are alive, every longer one dead, none escaped on the way. -1: walk it node by node.
   */
  private aliveDepth(s: MatchState, i: number): number {
    const { spanBytes, spanAt, spanHeight, spanUtf8 } = this.trie;
    const at = spanAt[i]!;
    const chars = s.need === 0;
    // Bytes past 0x7F in a subtree that is not well-formed UTF-8 from a boundary: some token in it is dead.
    if (chars && spanUtf8[at >>> 3] === 0 && (spanBytes[at + 4]! | spanBytes[at + 5]! | spanBytes[at + 6]! | spanBytes[at + 7]!) !== 0) return -1;
    let cur: MatchState = s;
    let escaped = s.escaped;
    for (let m = 0, h = spanHeight[at >>> 3]!; m < h; m++) {
      // Mid-character, a step is one byte; reaching a boundary that way means a continuation byte would follow it.
      const next = chars ? this.uniformOver(cur, at) : cur.need === 0 ? null : this.uniformOver(cur, at);
      if (next === null) return chars && !escaped && this.rejectsAll(cur, at) ? m : -1;
      if (next === cur) return Infinity; // a loop: as deep as any subtree
      escaped ||= next.escaped;
      cur = next;
    }
    return Infinity;
  }

  /** Whether `s` (at a boundary) rejects every character that may start in span `at` (its continuation bytes aside). */
  private rejectsAll(s: MatchState, at: number): boolean {
    const { spanBytes } = this.trie;
    const known = s.uniform!; // words 16–23: bytes known to be rejected here, 24–31: known not to be
    for (let w = 0; w < 8; w++) {
      if (w === 4 || w === 5) continue;
      if ((spanBytes[at + w]! & known[24 + w]!) !== 0) return false;
      for (let v = spanBytes[at + w]! & ~known[16 + w]!; v !== 0; v &= v - 1) {
        const bit = v & -v;
        if (this.step(s, (w << 5) | (31 - Math.clz32(bit))) !== null) {
          known[24 + w]! |= bit;
          return false;
        }
        known[16 + w]! |= bit;
      }
    }
    return true;
  }

  /** Sets the tokens under trie node `i` that start at most `chars` characters below its parent; returns how many. */
  private takeShallow(i: number, chars: number, bits: Uint32Array): number {
    const { charDepth, parent, skip, tokenStart, tokens } = this.trie;
    const limit = (parent[i]! < 0 ? 0 : charDepth[parent[i]!]!) + chars;
    let count = 0;
    for (let j = i, end = skip[i]!; j < end; ) {
      if (charDepth[j]! > limit) {
        j = skip[j]!;
        continue;
      }
      for (let k = tokenStart[j]!, e = tokenStart[j + 1]!; k < e; k++) bits[tokens[k]! >>> 5]! |= 1 << (tokens[k]! & 31);
      count += tokenStart[j + 1]! - tokenStart[j]!;
      j++;
    }
    return count;
  }

  /**
   * The one state every step over span `at` leads to from `s`, or null where they do not all lead to one live state.
   * At a boundary (need 0) a step is a character: an ASCII byte, or a lead byte followed by any continuation bytes,
   * which reach one state only where the partial states forget the bits (any completion is valid and taken); the
   * continuation bytes of the span are covered by their lead bytes. Mid-character a step is one byte.
   */
  private uniformOver(s: MatchState, at: number): MatchState | null {
    const { spanBytes } = this.trie;
    const known = (s.uniform ??= new Uint32Array(32));
    const boundary = s.need === 0;
    for (let w = 0; w < 8; w++) if ((spanBytes[at + w]! & known[8 + w]!) !== 0) return null;
    for (let w = 0; w < 8; w++) {
      if (boundary && (w === 4 || w === 5)) continue; // 0x80–0xBF
      for (let v = spanBytes[at + w]! & ~known[w]!; v !== 0; v &= v - 1) {
        const bit = v & -v;
        let t = this.step(s, (w << 5) | (31 - Math.clz32(bit)));
        if (boundary) while (t !== null && t.need !== 0) t = t.bits === -1 ? this.step(t, 0x80) : null;
        if (s.uniformTo === undefined && t !== null) s.uniformTo = t;
        if (t === null || t !== s.uniformTo) {
          known[8 + w]! |= bit;
          return null;
        }
        known[w]! |= bit;
      }
    }
    return s.uniformTo ?? null;
  }

  /** The precomputed part of a stack: its top PART_FRAMES frames walked over the whole trie once, then cached. */
  private part(top: StackNode): MaskPart {
    const frames: number[] = [];
    let r: StackNode | null = top;
    while (r !== null && frames.length < PART_FRAMES) {
      frames.push(r.pos);
      r = r.rest;
    }
    const key = `${frames.join(',')}${r === null ? '.' : '+'}`;
    const hit = this.parts.get(key);
    if (hit !== undefined) {
      this.parts.delete(key); // most recently used last
      this.parts.set(key, hit);
      return hit;
    }
    let cut: StackNode | null = r === null ? null : this.bottom;
    for (let k = frames.length - 1; k >= 0; k--) cut = this.node(frames[k]!, cut);
    const part = this.computePart(this.intern([cut!], false, 0, 0, 0)!);
    this.parts.set(key, part);
    this.partBytes += part.bytes;
    for (const [k, old] of this.parts) {
      if (this.partBytes <= PART_BUDGET || old === part) break;
      this.parts.delete(k);
      this.partBytes -= old.bytes;
    }
    return part;
  }

  /**
   * One walk from a truncated stack's state: a token is accepted where the walk reaches it alive (the frames below
   * only add ways to go on); a subtree the walk rejects after some prefix escaped below the cut is uncertain; any
   * other rejected subtree is rejected in every context.
   */
  private computePart(start: MatchState): MaskPart {
    const { byte, depth, skip, tokenStart, tokens, spanAt } = this.trie;
    const n = byte.length;
    const bits = new Uint32Array(this.words);
    const uncertain: number[] = [];
    const path: MatchState[] = [start];
    let count = 0;
    let escapedAt = Infinity; // the smallest depth on the current path whose state escaped
    for (let i = 0; i < n; ) {
      const d = depth[i]!;
      if (escapedAt >= d) escapedAt = Infinity; // that node is off the path now
      const prev = path[d - 1]!;
      const alive = spanAt[i]! >= 0 ? this.aliveDepth(prev, i) : -1;
      if (alive === Infinity) {
        // Every token below stays alive (whatever escaped on the way): all accepted, none uncertain.
        for (let k = tokenStart[i]!, end = tokenStart[skip[i]!]!; k < end; k++) {
          bits[tokens[k]! >>> 5]! |= 1 << (tokens[k]! & 31);
          count++;
        }
        i = skip[i]!;
        continue;
      }
      if (alive >= 0 && escapedAt >= d) {
        // The deeper tokens die without having escaped on the way: rejected in every context, none uncertain.
        count += this.takeShallow(i, alive, bits);
        i = skip[i]!;
        continue;
      }
      const t = this.step(prev, byte[i]!);
      if (t === null) {
        if (escapedAt < d) uncertain.push(i);
        i = skip[i]!;
        continue;
      }
      path[d] = t;
      if (t.escaped && d < escapedAt) escapedAt = d;
      for (let k = tokenStart[i]!, end = tokenStart[i + 1]!; k < end; k++) {
        const id = tokens[k]!;
        bits[id >>> 5]! |= 1 << (id & 31);
        count++;
      }
      i++;
    }
    const dense = count >= this.words;
    let accepted: Uint32Array | Int32Array = bits;
    if (!dense) {
      accepted = new Int32Array(count);
      let k = 0;
      for (let w = 0; w < bits.length; w++) for (let v = bits[w]!; v !== 0; v &= v - 1) accepted[k++] = (w << 5) | (31 - Math.clz32(v & -v));
    }
    return { accepted, dense, uncertain: Int32Array.from(uncertain), bytes: accepted.byteLength + 4 * uncertain.length + 64 };
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
