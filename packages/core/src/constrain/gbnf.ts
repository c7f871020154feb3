/**
 * GBNF (llama.cpp's grammar format) → a flat program a pushdown matcher walks.
 *
 * Syntax: `name ::= alternatives`, `|`, sequences, `"literal"` (escapes \n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH),
 * `[a-z]` / `[^...]` classes, `.` (any character), `( ... )` groups, postfix `*` `+` `?` `{m}` `{m,}` `{m,n}`, `#`
 * comments. A rule ends at a newline outside parentheses (as llama.cpp). `root` is the start rule.
 *
 * The program: every alternative of every rule is a run of elements in one array, ended by END. An element is a
 * character class or a rule reference. Repetitions become helper rules (`x*` → `r ::= x r |`), as llama.cpp does;
 * the matcher treats a reference in tail position as a jump, so such loops keep a constant stack depth.
 */
import { invalidArgument } from '../errors/index.js';

export const ELEMENT = { end: 0, chars: 1, rule: 2 } as const;

/** Bounds on what untrusted grammar text may make us allocate. */
export const GRAMMAR_LIMITS = { maxTextLength: 1 << 20, maxElements: 200_000, maxRepeat: 4096, maxRules: 20_000, maxNesting: 100 } as const;

/** A character class: inclusive [lo, hi] code point pairs, or their complement. */
export interface CharClass {
  readonly ranges: Int32Array;
  readonly negated: boolean;
}

export interface GrammarProgram {
  /** Per position: ELEMENT kind, and its argument (class index or rule id). */
  readonly kind: Uint8Array;
  readonly arg: Int32Array;
  readonly classes: readonly CharClass[];
  /** Per rule: the positions its alternatives start at. */
  readonly alternatives: readonly Int32Array[];
  readonly ruleNames: readonly string[];
  readonly root: number;
}

// ---- AST ----
type Node =
  | { t: 'chars'; cls: CharClass }
  | { t: 'ref'; name: string }
  | { t: 'group'; alts: Node[][] }
  | { t: 'repeat'; node: Node; min: number; max: number }; // max = Infinity: unbounded

const bad = (problem: string): never => {
  throw invalidArgument('grammar', problem);
};

export function classMatches(cls: CharClass, cp: number): boolean {
  const r = cls.ranges;
  let hit = false;
  for (let i = 0; i < r.length; i += 2) {
    if (cp >= r[i]! && cp <= r[i + 1]!) {
      hit = true;
      break;
    }
  }
  return hit !== cls.negated;
}

/** Whether some code point in [lo, hi] is in the class (a partial UTF-8 character leaves such a range open). */
export function classIntersects(cls: CharClass, lo: number, hi: number): boolean {
  const r = cls.ranges;
  if (!cls.negated) {
    for (let i = 0; i < r.length; i += 2) if (r[i]! <= hi && r[i + 1]! >= lo) return true;
    return false;
  }
  // Complement: [lo, hi] must not be covered entirely by the (possibly overlapping) ranges.
  return !rangesCover(r, lo, hi);
}

/** Whether the union of the (possibly overlapping) [lo, hi] pairs in `r` covers [lo, hi]. */
function rangesCover(r: Int32Array, lo: number, hi: number): boolean {
  const sorted: [number, number][] = [];
  for (let i = 0; i < r.length; i += 2) sorted.push([r[i]!, r[i + 1]!]);
  sorted.sort((a, b) => a[0] - b[0]);
  let next = lo;
  for (const [a, b] of sorted) {
    if (a > next) return false;
    if (b >= next) next = b + 1;
    if (next > hi) return true;
  }
  return next > hi;
}

/** Whether every code point in [lo, hi] is in the class. */
export function classCovers(cls: CharClass, lo: number, hi: number): boolean {
  const r = cls.ranges;
  if (cls.negated) {
    for (let i = 0; i < r.length; i += 2) if (r[i]! <= hi && r[i + 1]! >= lo) return false;
    return true;
  }
  return rangesCover(r, lo, hi);
}

class Parser {
  private i = 0;
  private depth = 0;
  readonly rules = new Map<string, Node[][]>();
  constructor(private readonly src: string) {}

  parse(): Map<string, Node[][]> {
    this.space(true);
    while (this.i < this.src.length) {
      const name = this.name();
      this.space(false);
      if (!this.src.startsWith('::=', this.i)) bad(`expected '::=' after rule '${name}' at offset ${this.i}`);
      this.i += 3;
      this.space(true);
      const alts = this.alternatives(false);
      if (this.rules.has(name)) bad(`rule '${name}' is defined twice`);
      this.rules.set(name, alts);
      this.space(true);
    }
    return this.rules;
  }

  /** Skips blanks and comments; newlines only where allowed. */
  private space(newlines: boolean): void {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n' && s[this.i] !== '\r') this.i++;
      } else if (c === ' ' || c === '\t' || (newlines && (c === '\n' || c === '\r'))) {
        this.i++;
      } else break;
    }
  }

  private name(): string {
    const m = /^[a-zA-Z0-9_-]+/.exec(this.src.slice(this.i, this.i + 256));
    if (!m) bad(`expected a rule name at offset ${this.i}`);
    this.i += m![0].length;
    return m![0];
  }

  private alternatives(nested: boolean): Node[][] {
    const alts: Node[][] = [this.sequence(nested)];
    while (this.src[this.i] === '|') {
      this.i++;
      this.space(true);
      alts.push(this.sequence(nested));
    }
    return alts;
  }

  private sequence(nested: boolean): Node[] {
    const seq: Node[] = [];
    const s = this.src;
    for (;;) {
      this.space(nested);
      const c = s[this.i];
      if (c === undefined || c === '|' || c === ')' || c === '\n' || c === '\r') break;
      if (c === '"') {
        this.i++;
        const chars: Node[] = [];
        while (s[this.i] !== '"') {
          if (this.i >= s.length) bad('unterminated string literal');
          const cp = this.char();
          chars.push({ t: 'chars', cls: { ranges: Int32Array.of(cp, cp), negated: false } });
        }
        this.i++;
        seq.push(chars.length === 1 ? chars[0]! : { t: 'group', alts: [chars] });
      } else if (c === '[') {
        this.i++;
        const negated = s[this.i] === '^';
        if (negated) this.i++;
        const ranges: number[] = [];
        while (s[this.i] !== ']') {
          if (this.i >= s.length) bad('unterminated character class');
          const lo = this.char();
          let hi = lo;
          if (s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
            this.i++;
            hi = this.char();
          }
          if (hi < lo) bad(`character range ${lo}-${hi} is reversed`);
          ranges.push(lo, hi);
        }
        this.i++;
        seq.push({ t: 'chars', cls: { ranges: Int32Array.from(ranges), negated } });
      } else if (c === '.') {
        this.i++;
        seq.push({ t: 'chars', cls: { ranges: new Int32Array(0), negated: true } });
      } else if (c === '(') {
        if (++this.depth > GRAMMAR_LIMITS.maxNesting) bad(`nests parentheses deeper than ${GRAMMAR_LIMITS.maxNesting}`);
        this.i++;
        this.space(true);
        const alts = this.alternatives(true);
        this.space(true);
        if (s[this.i] !== ')') bad(`expected ')' at offset ${this.i}`);
        this.i++;
        this.depth--;
        seq.push({ t: 'group', alts });
      } else if (/[a-zA-Z0-9_-]/.test(c)) {
        // `name ::=` on the next line ends this rule only after a newline, which we stop at above.
        seq.push({ t: 'ref', name: this.name() });
      } else if (c === '*' || c === '+' || c === '?' || c === '{') {
        const last = seq.pop();
        if (last === undefined) bad(`'${c}' at offset ${this.i} follows nothing`);
        let min = 0;
        let max = Infinity;
        this.i++;
        if (c === '+') min = 1;
        else if (c === '?') max = 1;
        else if (c === '{') {
          const m = /^\s*(\d+)\s*(,\s*(\d*)\s*)?\}/.exec(s.slice(this.i, this.i + 40));
          if (!m) bad(`bad repetition at offset ${this.i}`);
          this.i += m![0].length;
          min = Number(m![1]);
          max = m![2] === undefined ? min : m![3] === '' ? Infinity : Number(m![3]);
          if (min > GRAMMAR_LIMITS.maxRepeat || (max !== Infinity && max > GRAMMAR_LIMITS.maxRepeat)) {
            bad(`repetition {${m![1]},${m![3] ?? ''}} exceeds ${GRAMMAR_LIMITS.maxRepeat}`);
          }
          if (max < min) bad(`repetition {${min},${max}} has max < min`);
        }
        seq.push({ t: 'repeat', node: last!, min, max });
      } else {
        bad(`unexpected '${c}' at offset ${this.i}`);
      }
    }
    return seq;
  }

  /** One character of a literal or class, with escapes. */
  private char(): number {
    const s = this.src;
    if (s[this.i] !== '\\') {
      const cp = s.codePointAt(this.i)!;
      this.i += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = s[this.i + 1];
    this.i += 2;
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, '"': 34, '[': 91, ']': 93, '-': 45, '^': 94, '/': 47 };
    if (e !== undefined && e in simple) return simple[e]!;
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) bad(`unknown escape '\\${e ?? ''}' at offset ${this.i - 2}`);
    const hex = s.slice(this.i, this.i + width);
    if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) bad(`bad \\${e} escape at offset ${this.i - 2}`);
    this.i += width;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) bad(`code point ${hex} is beyond U+10FFFF`);
    return cp;
  }
}

/** Parses GBNF text and lowers it to a program; every problem is INVALID_ARGUMENT on field `grammar`. */
export function compileGbnf(text: string): GrammarProgram {
  if (typeof text !== 'string') bad('must be a string');
  if (text.length > GRAMMAR_LIMITS.maxTextLength) bad(`is ${text.length} characters; at most ${GRAMMAR_LIMITS.maxTextLength}`);
  const rules = new Parser(text).parse();
  if (!rules.has('root')) bad("has no 'root' rule");

  const ids = new Map<string, number>();
  const names: string[] = [];
  const bodies: Node[][][] = [];
  const define = (name: string, alts: Node[][]): number => {
    if (names.length >= GRAMMAR_LIMITS.maxRules) bad(`needs more than ${GRAMMAR_LIMITS.maxRules} rules`);
    ids.set(name, names.length);
    names.push(name);
    bodies.push(alts);
    return names.length - 1;
  };
  for (const [name, alts] of rules) define(name, alts);

  const kind: number[] = [];
  const arg: number[] = [];
  const classes: CharClass[] = [];
  const alternatives: Int32Array[] = [];
  const emit = (k: number, a: number): void => {
    if (kind.length >= GRAMMAR_LIMITS.maxElements) bad(`expands to more than ${GRAMMAR_LIMITS.maxElements} elements`);
    kind.push(k);
    arg.push(a);
  };
  let helpers = 0;
  const helper = (base: string, alts: Node[][]): number => define(`${base}~${++helpers}`, alts);

  // Lowers one sequence into elements, creating helper rules for groups and repetitions.
  const lower = (owner: string, seq: Node[]): void => {
    for (const node of seq) lowerNode(owner, node);
  };
  const lowerNode = (owner: string, node: Node): void => {
    if (node.t === 'chars') {
      classes.push(node.cls);
      emit(ELEMENT.chars, classes.length - 1);
    } else if (node.t === 'ref') {
      const id = ids.get(node.name);
      if (id === undefined) bad(`rule '${node.name}' (used in '${owner}') is not defined`);
      emit(ELEMENT.rule, id!);
    } else if (node.t === 'group') {
      if (node.alts.length === 1) lower(owner, node.alts[0]!);
      else emit(ELEMENT.rule, helper(owner, node.alts));
    } else {
      const { min, max } = node;
      for (let k = 0; k < min; k++) lowerNode(owner, node.node);
      if (max === Infinity) {
        // r ::= x r |   (right recursion: the matcher jumps, the stack stays flat)
        const self: Node = { t: 'ref', name: '' };
        const id = helper(owner, []);
        self.name = names[id]!;
        bodies[id] = [[node.node, self], []];
        emit(ELEMENT.rule, id);
      } else if (max > min) {
        // x{0,k} nests: r_k ::= x r_{k-1} | ;  r_1 ::= x |
        let inner: Node | undefined;
        for (let k = 1; k <= max - min; k++) {
          const id = helper(owner, [inner ? [node.node, inner] : [node.node], []]);
          inner = { t: 'ref', name: names[id]! };
        }
        lowerNode(owner, inner!);
      }
    }
  };
  for (let r = 0; r < names.length; r++) {
    const starts: number[] = [];
    for (const alt of bodies[r]!) {
      starts.push(kind.length);
      lower(names[r]!, alt);
      emit(ELEMENT.end, 0);
    }
    alternatives.push(Int32Array.from(starts));
  }
  const program: GrammarProgram = {
    kind: Uint8Array.from(kind),
    arg: Int32Array.from(arg),
    classes,
    alternatives,
    ruleNames: names,
    root: ids.get('root')!,
  };
  rejectLeftRecursion(program);
  return program;
}

/**
 * A rule that can reach itself before consuming a character would expand forever; llama.cpp rejects it too.
 * Nullable rules are found first, then a search over "may start with" edges.
 */
function rejectLeftRecursion(p: GrammarProgram): void {
  const n = p.alternatives.length;
  const nullable = new Uint8Array(n);
  for (let changed = true; changed; ) {
    changed = false;
    for (let r = 0; r < n; r++) {
      if (nullable[r]) continue;
      for (const start of p.alternatives[r]!) {
        let pos = start;
        while (p.kind[pos] === ELEMENT.rule && nullable[p.arg[pos]!]) pos++;
        if (p.kind[pos] === ELEMENT.end) {
          nullable[r] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  const firsts: number[][] = p.alternatives.map((alts) => {
    const out: number[] = [];
    for (const start of alts) {
      for (let pos = start; p.kind[pos] === ELEMENT.rule; pos++) {
        out.push(p.arg[pos]!);
        if (!nullable[p.arg[pos]!]) break;
      }
    }
    return out;
  });
  const state = new Uint8Array(n); // 0 new, 1 on the path, 2 done
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    // Iterative DFS (deep grammars must not overflow the JS stack).
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = firsts[top[0]]![top[1]++];
      if (next === undefined) {
        state[top[0]] = 2;
        stack.pop();
      } else if (state[next] === 1) {
        bad(`rule '${p.ruleNames[next]}' is left-recursive (it can reach itself without consuming a character)`);
      } else if (state[next] === 0) {
        state[next] = 1;
        stack.push([next, 0]);
      }
    }
  }
}
