import { spawn } from 'node:child_process';
import type { BenchResult } from '../report/schema.js';

/** One row of llama-bench's `-o json` output (bitnet.cpp's vendored copy and mainline share these fields). */
export interface LlamaBenchRow {
  readonly n_prompt: number;
  readonly n_gen: number;
  readonly n_threads: number;
  readonly n_batch?: number;
  readonly avg_ts: number;
  readonly stddev_ts?: number;
  readonly model_type?: string;
  readonly build_commit?: string;
}

/** Parse llama-bench JSON (an array of rows), tolerating log lines printed before it. */
export function parseLlamaBenchJson(text: string): LlamaBenchRow[] {
  const start = text.indexOf('[');
  const end = text.lastIndexOf(']');
  if (start < 0 || end < start) throw new Error('llama-bench printed no JSON array');
  const rows: unknown = JSON.parse(text.slice(start, end + 1));
  if (!Array.isArray(rows)) throw new Error('llama-bench JSON is not an array');
  return rows.map((r: Record<string, unknown>, i) => {
    for (const k of ['n_prompt', 'n_gen', 'n_threads', 'avg_ts'] as const) {
      if (typeof r[k] !== 'number') throw new Error(`llama-bench row ${i}: ${k} missing or not a number`);
    }
    return r as unknown as LlamaBenchRow;
  });
}

/** Map llama-bench rows onto bench results: pp rows are prefill tokens/s, tg rows decode tokens/s. */
export function llamaBenchResults(engine: string, shape: string, rows: readonly LlamaBenchRow[]): BenchResult[] {
  return rows.map((r) => {
    const prefill = r.n_prompt > 0 && r.n_gen === 0;
    return {
      suite: prefill ? 'prefill' : 'decode',
      engine,
      backend: 'cpu',
      shape,
      threads: r.n_threads,
      batch: 1,
      context: prefill ? r.n_prompt : r.n_gen,
      metric: 'tokens_per_s',
      value: r.avg_ts,
      unit: 'tok/s',
      higherIsBetter: true,
      note: r.stddev_ts !== undefined ? `±${r.stddev_ts.toFixed(2)}` : undefined,
    } satisfies BenchResult;
  });
}

export interface LlamaBenchOptions {
  readonly threads: readonly number[];
  /** Prefill length (`-p`, a pp row) and decoded tokens (`-n`, a tg row). */
  readonly prompt: number;
  readonly gen: number;
  readonly reps: number;
  readonly timeoutMs: number;
}

/** llama-bench's arguments: one pp and one tg test at every thread count, JSON out. */
export function llamaBenchArgs(model: string, opts: Omit<LlamaBenchOptions, 'timeoutMs'>): string[] {
  for (const [k, v] of [['prompt', opts.prompt], ['gen', opts.gen], ['reps', opts.reps]] as const)
    if (!Number.isInteger(v) || v < 0) throw new Error(`llama-bench ${k} must be a non-negative integer, got ${v}`);
  if (opts.threads.length === 0 || opts.threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`llama-bench threads must be positive integers, got ${opts.threads.join(',')}`);
  return ['-m', model, '-p', String(opts.prompt), '-n', String(opts.gen), '-t', opts.threads.join(','), '-r', String(Math.max(1, opts.reps)), '-o', 'json'];
}

/** Run an external llama-bench binary on a model file; resolves with its parsed rows. */
export function runLlamaBench(binary: string, model: string, opts: LlamaBenchOptions): Promise<LlamaBenchRow[]> {
  const args = llamaBenchArgs(model, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { err += `\nkilled after ${opts.timeoutMs} ms`; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${binary} exited ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`));
      try { resolve(parseLlamaBenchJson(out)); } catch (e) { reject(e); }
    });
  });
}
