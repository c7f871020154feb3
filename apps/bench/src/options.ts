/** `pnpm bench` flags, validated: a bad flag is a TrineError naming it, never a crash mid-run. */
import os from 'node:os';
import { MODEL_SHAPES, TrineError } from '@trine/core';
import { KNOWN_BACKENDS } from './backends.js';
import type { WeightFormat } from './model/shapes.js';

export interface BenchOptions {
  readonly quick: boolean;
  readonly shapes: readonly string[];
  /** Empty: every available backend (quick: the best one). */
  readonly backends: readonly string[];
  readonly threads: readonly number[];
  readonly batches: readonly number[];
  /** KV depths decode is measured at. */
  readonly contexts: readonly number[];
  readonly formats: readonly WeightFormat[];
  readonly baseline?: string;
  /** Directory of per-host-class baselines (<class>.json), used when --baseline is not given and the file exists. */
  readonly baselineDir?: string;
  readonly threshold: number;
  readonly bitnetCpp?: string;
  readonly llamaCpp?: string;
  readonly out: string;
  readonly runId?: string;
  readonly q8: boolean;
  readonly kernels: boolean;
  readonly batched: boolean;
  /** Serving suite (gateway vs in-process) at these concurrency levels; empty: off. */
  readonly concurrency: readonly number[];
  /** The long hardening run (200 streams, fault loops; apps/gateway/scripts/hardening-long.ts). Opt-in. */
  readonly hardening: boolean;
  readonly decodeTokens: number;
  readonly prefillTokens: number;
  readonly reps: number;
  readonly cacheDir?: string;
  readonly args: readonly string[];
}

export const USAGE = `pnpm bench [--quick] [--shapes 2b4t,700m,3b,8b,tiny] [--backends cpu,wasm,webgpu,reference]
  [--threads 1,2] [--batch 1,8,32] [--context 8,1024] [--formats i2_s,tq2_0] [--q8] [--no-kernels] [--no-batched]
  [--serving | --no-serving] [--concurrency 1,32] [--hardening]
  [--decode-tokens 64] [--prefill-tokens 128] [--reps N] [--baseline FILE | --baseline-dir DIR] [--threshold 0.1]
  [--bitnet-cpp PATH/llama-bench] [--llama-cpp PATH/llama-bench] [--out DIR] [--run-id ID] [--cache-dir DIR] [--print-host-class]

--quick: 2B4T decode + prefill on the best available backend at 1 and 2 threads, kernels (GEMV + f16 LM head),
read bandwidth, and the external engines when given; a few minutes on 2 cores. --context lists the KV depths
decode is measured at (a prompt of that length is prefilled first, untimed). Without --quick: the full matrix
(700m, 2b4t, 3b, 8b × every available backend × threads 1, 2, all cores × batch 1/8/32 × q8 LM head).
--hardening adds the long hardening run (200 concurrent streams, worker SIGKILL and Redis-crash loops through
gateway + worker processes on a private redis-server; about 5 minutes), reported as suite "hardening".`;

function bad(flag: string, why: string): TrineError {
  return new TrineError('INVALID_ARGUMENT', `--${flag}: ${why}`, { field: flag });
}

function ints(flag: string, v: string, min: number, max: number): number[] {
  const list = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw bad(flag, 'expects a comma-separated list');
  return [...new Set(list.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw bad(flag, `'${s}' is not an integer in [${min}, ${max}]`);
    return n;
  }))];
}

function names(flag: string, v: string, known: readonly string[]): string[] {
  const list = [...new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''))];
  if (list.length === 0) throw bad(flag, 'expects a comma-separated list');
  for (const n of list) if (!known.includes(n)) throw bad(flag, `unknown '${n}' (known: ${known.join(', ')})`);
  return list;
}

const VALUE_FLAGS = ['shapes', 'backends', 'threads', 'batch', 'context', 'formats', 'baseline', 'baseline-dir', 'threshold', 'bitnet-cpp', 'llama-cpp', 'out', 'run-id', 'decode-tokens', 'prefill-tokens', 'concurrency', 'reps', 'cache-dir'];
const BOOL_FLAGS = ['quick', 'q8', 'no-kernels', 'no-batched', 'serving', 'no-serving', 'hardening', 'help', 'print-host-class'];

export function parseArgs(argv: readonly string[]): BenchOptions | 'help' | 'host-class' {
  const v = new Map<string, string>();
  const b = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new TrineError('INVALID_ARGUMENT', `unexpected argument '${a}'`, { field: 'args' });
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (BOOL_FLAGS.includes(name)) {
      if (eq >= 0) throw bad(name, 'takes no value');
      b.add(name);
    } else if (VALUE_FLAGS.includes(name)) {
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw bad(name, 'needs a value');
      v.set(name, value);
    } else throw new TrineError('INVALID_ARGUMENT', `unknown flag '${a}'\n${USAGE}`, { field: name });
  }
  if (b.has('help')) return 'help';
  if (b.has('print-host-class')) return 'host-class';
  const quick = b.has('quick');
  const cores = os.cpus().length;
  const threshold = v.has('threshold') ? Number(v.get('threshold')) : 0.1;
  if (!(threshold >= 0 && threshold < 10)) throw bad('threshold', `must be a number in [0, 10), got ${v.get('threshold')}`);
  const opt = (k: string, parse: (s: string) => number[], def: number[]): number[] => (v.has(k) ? parse(v.get(k)!) : def);
  return {
    quick,
    shapes: v.has('shapes') ? names('shapes', v.get('shapes')!, Object.keys(MODEL_SHAPES)) : quick ? ['2b4t'] : ['700m', '2b4t', '3b', '8b'],
    backends: v.has('backends') ? names('backends', v.get('backends')!, KNOWN_BACKENDS) : [],
    threads: opt('threads', (s) => ints('threads', s, 1, 256), quick ? [1, 2] : [...new Set([1, 2, cores])]),
    batches: opt('batch', (s) => ints('batch', s, 1, 256), quick ? [] : [1, 8, 32]),
    contexts: opt('context', (s) => ints('context', s, 1, 131072), quick ? [8] : [8, 1024]),
    formats: v.has('formats') ? (names('formats', v.get('formats')!, ['i2_s', 'tq2_0']) as WeightFormat[]) : ['i2_s'],
    baseline: v.get('baseline'),
    baselineDir: v.get('baseline-dir'),
    threshold,
    bitnetCpp: v.get('bitnet-cpp'),
    llamaCpp: v.get('llama-cpp'),
    out: v.get('out') ?? 'bench-results',
    runId: v.get('run-id'),
    q8: b.has('q8') || !quick,
    kernels: !b.has('no-kernels'),
    batched: !b.has('no-batched') && (v.has('batch') || !quick),
    concurrency: b.has('no-serving') ? [] : v.has('concurrency') ? ints('concurrency', v.get('concurrency')!, 1, 1024) : b.has('serving') || !quick ? [1, 32] : [],
    hardening: b.has('hardening'),
    decodeTokens: opt('decode-tokens', (s) => ints('decode-tokens', s, 1, 4096), [64])[0]!,
    prefillTokens: opt('prefill-tokens', (s) => ints('prefill-tokens', s, 1, 8192), [128])[0]!,
    reps: opt('reps', (s) => ints('reps', s, 1, 100), [quick ? 1 : 3])[0]!,
    cacheDir: v.get('cache-dir'),
    args: [...argv],
  };
}
