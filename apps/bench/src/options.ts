/** `pnpm bench` flags, validated: a bad flag is a TrineError naming it, never a crash mid-run. */
import os from 'node:os';
import { flagHelp, parseArgs as parseFlags, type FlagSpec, type FlagTable } from '@trine/args';
import { MODEL_SHAPES, TrineError } from '@trine/core';
import { BACKEND_NAMES } from '@trine/backends';
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
  /** Constrained decoding: mask cost per token at a 128k vocabulary, and its share of a 2B4T decode step. Opt-in. */
  readonly constrain: boolean;
  /** `llama3-shaped`, or a tiktoken file (LLaMA 3's tokenizer.model) for the real vocabulary. */
  readonly constrainVocab: string;
  /** Prefix cache (chat turn-5 TTFT) and prompt lookup (decode speed-up) rows, on each shape and the trained model. */
  readonly reuse: boolean;
  /** Skip the model matrix (load, prefill, decode, q8, batched): with --reuse, only the reuse rows. */
  readonly noModel: boolean;
  readonly decodeTokens: number;
  readonly prefillTokens: number;
  readonly reps: number;
  readonly cacheDir?: string;
  readonly args: readonly string[];
}

const listOf = (min: number, max: number, help: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({ kind: 'int', list: true, min, max, help, ...extra });
const path = (help: string): FlagSpec => ({ kind: 'string', value: 'PATH', help });

/** `pnpm bench` flags (llama-bench's short spellings where it has the same flag: -t, -p, -n, -r). */
export const BENCH_FLAGS: FlagTable = {
  quick: { kind: 'boolean', help: '2B4T on the best backend at 1 and 2 threads, kernels, read bandwidth (a few minutes)' },
  shapes: { kind: 'string', list: true, oneOf: Object.keys(MODEL_SHAPES), ignoreCase: true, help: 'model shapes (default 700m,2b4t,3b,8b; quick: 2b4t)' },
  backends: { kind: 'string', list: true, oneOf: BACKEND_NAMES, ignoreCase: true, help: 'backends (default: every available one; quick: the best)' },
  threads: listOf(1, 256, 'thread counts (default 1,2,all cores; quick: 1,2)', { short: 't' }),
  batch: listOf(1, 256, 'batch sizes of the batched decode suite (default 1,8,32; quick: off)'),
  context: listOf(1, 131072, 'KV depths decode is measured at, each after an untimed prefill (default 8,1024; quick: 8)'),
  formats: { kind: 'string', list: true, oneOf: ['i2_s', 'tq2_0'], ignoreCase: true, default: ['i2_s'], help: 'weight formats' },
  q8: { kind: 'boolean', help: 'also time the q8 LM head (always on without --quick)' },
  'no-kernels': { kind: 'boolean', help: 'skip the kernel suite (GEMV, f16 LM head)' },
  'no-batched': { kind: 'boolean', help: 'skip the batched decode suite' },
  serving: { kind: 'boolean', help: 'run the serving suite (gateway vs in-process) with --quick' },
  'no-serving': { kind: 'boolean', help: 'skip the serving suite' },
  concurrency: listOf(1, 1024, 'serving concurrency levels (default 1,32)'),
  hardening: { kind: 'boolean', help: 'the long hardening run: 200 streams, worker SIGKILL and Redis-crash loops (about 5 minutes)' },
  constrain: { kind: 'boolean', help: 'constrained decoding: token mask cost per token (JSON, a 20-property schema, a regex, a GBNF grammar; batch 1 and 8) at a 128k vocabulary, schema compile time, and the share of a 2B4T decode step at 1 thread' },
  'constrain-vocab': path('a tiktoken vocabulary (LLaMA 3 tokenizer.model) for --constrain instead of the drawn LLaMA-3-shaped one'),
  reuse: { kind: 'boolean', help: 'prefix cache and prompt lookup rows with --quick (chat turn-5 TTFT with/without the cache, lookup decode speed-up), on each shape and the trained default model' },
  'no-reuse': { kind: 'boolean', help: 'skip the reuse rows' },
  'no-model': { kind: 'boolean', help: 'skip the model matrix (load, prefill, decode, q8, batched), e.g. --quick --reuse --no-model --no-kernels' },
  'decode-tokens': { kind: 'int', short: 'n', min: 1, max: 4096, default: 64, help: 'greedy tokens timed per decode run' },
  'prefill-tokens': { kind: 'int', short: 'p', min: 1, max: 8192, default: 128, help: 'prompt tokens timed per prefill run' },
  reps: { kind: 'int', short: 'r', min: 1, max: 100, help: 'repetitions of each measurement (default 3; quick: 1)' },
  baseline: path('baseline results to compare with'),
  'baseline-dir': path('directory of per-host-class baselines (<class>.json), used without --baseline'),
  threshold: { kind: 'number', min: 0, below: 10, default: 0.1, help: 'a change beyond this fraction is a regression' },
  'bitnet-cpp': path("bitnet.cpp's llama-bench, run on the same shapes"),
  'llama-cpp': path("llama.cpp's llama-bench, run on the same shapes"),
  out: { ...path('results directory'), default: 'bench-results' },
  'run-id': { kind: 'string', value: 'ID', help: 'name of this run in the results' },
  'cache-dir': path('where generated models are cached (default $TRINE_CACHE_DIR/bench or ~/.cache/trine/bench)'),
  'print-host-class': { kind: 'boolean', help: "print this host's class (the baseline file name) and exit" },
};

export const USAGE = `pnpm bench [options]

${flagHelp(BENCH_FLAGS)}

--quick: 2B4T decode + prefill on the best available backend at 1 and 2 threads, kernels (GEMV + f16 LM head),
read bandwidth, and the external engines when given; a few minutes on 2 cores. Without --quick: the full matrix
(700m, 2b4t, 3b, 8b × every available backend × threads 1, 2, all cores × batch 1/8/32 × q8 LM head).
--hardening adds the long hardening run (200 concurrent streams, worker SIGKILL and Redis-crash loops through
gateway + worker processes on a private redis-server; about 5 minutes), reported as suite "hardening".`;

export function parseArgs(argv: readonly string[]): BenchOptions | 'help' | 'host-class' {
  const { flags: f, positionals, help } = parseFlags(argv, BENCH_FLAGS);
  if (positionals.length > 0) throw new TrineError('INVALID_ARGUMENT', `unexpected argument '${positionals[0]}'`, { field: 'args' });
  if (help) return 'help';
  if (f['print-host-class']) return 'host-class';
  const quick = f.quick === true;
  const cores = os.cpus().length;
  const ints = (k: string, def: number[]): number[] => (f[k] as number[] | undefined) ?? def;
  const str = (k: string): string | undefined => f[k] as string | undefined;
  return {
    quick,
    shapes: (f.shapes as string[] | undefined) ?? (quick ? ['2b4t'] : ['700m', '2b4t', '3b', '8b']),
    backends: (f.backends as string[] | undefined) ?? [],
    threads: ints('threads', quick ? [1, 2] : [...new Set([1, 2, cores])]),
    batches: ints('batch', quick ? [] : [1, 8, 32]),
    contexts: ints('context', quick ? [8] : [8, 1024]),
    formats: f.formats as WeightFormat[],
    baseline: str('baseline'),
    baselineDir: str('baseline-dir'),
    threshold: f.threshold as number,
    bitnetCpp: str('bitnet-cpp'),
    llamaCpp: str('llama-cpp'),
    out: f.out as string,
    runId: str('run-id'),
    q8: f.q8 === true || !quick,
    kernels: f['no-kernels'] !== true,
    batched: f['no-batched'] !== true && (f.batch !== undefined || !quick),
    concurrency: f['no-serving'] ? [] : ints('concurrency', f.serving || !quick ? [1, 32] : []),
    hardening: f.hardening === true,
    constrain: f.constrain === true || f['constrain-vocab'] !== undefined,
    constrainVocab: str('constrain-vocab') ?? 'llama3-shaped',
    reuse: f['no-reuse'] !== true && (f.reuse === true || !quick),
    noModel: f['no-model'] === true,
    decodeTokens: f['decode-tokens'] as number,
    prefillTokens: f['prefill-tokens'] as number,
    reps: (f.reps as number | undefined) ?? (quick ? 1 : 3),
    cacheDir: str('cache-dir'),
    args: [...argv],
  };
}
