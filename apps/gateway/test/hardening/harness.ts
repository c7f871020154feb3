/**
 * Shared pieces of the hardening tests: gateway and worker processes (spawned from sources, as the serving tests do),
 * streams watched with deadlines, RSS of a process, and the one-line figure report every test prints.
 */
import { readFileSync } from 'node:fs';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { Engine, referenceBackendFactory, type BackendFactory } from '@trine/core';
import { loadBackend } from '@trine/backends';
import type { GenerateStreamResponse } from '@trine/proto';
import { spawnTs, type Proc } from '../support/processes.js';

/** Prints the figures of a scenario in one greppable line: `HARDENING <name>: k=v k=v …`. */
export function report(name: string, figures: Record<string, string | number | boolean>): void {
  const kv = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`);
  console.log(`HARDENING ${name}: ${kv.join(' ')}`);
}

/** The CPU backend when @trine/kernels-cpu loads here, else the reference backend (same choice for workers and oracle). */
export async function bestBackend(): Promise<{ name: 'cpu' | 'reference'; factory: BackendFactory }> {
  const cpu = await loadBackend('cpu');
  const e = cpu.factory && (await Engine.load({ backend: cpu.factory, maxBatch: 1 }).catch(() => undefined));
  if (cpu.factory && e) {
    await e.close();
    return { name: 'cpu', factory: cpu.factory };
  }
  return { name: 'reference', factory: referenceBackendFactory };
}

/** An in-process engine on the given backend: the oracle for the tokens a stream must carry. */
export async function oracle(backend: { name: string; factory: BackendFactory }, maxBatch = 8): Promise<Engine> {
  return Engine.load({ backend: backend.factory, maxBatch });
}

export async function expectedTokens(engine: Engine, prompt: string, maxTokens: number, seed: number, temperature = 1): Promise<number[]> {
  const ids: number[] = [];
  for await (const e of engine.generate({ prompt, sampling: { maxTokens, temperature, topP: 1, topK: 0, repetitionPenalty: 1, seed, stop: [], topLogprobs: 0 } }))
    if (e.type === 'token') ids.push(e.tokenId);
  return ids;
}

/** The oracle's tokens for many requests, a batch at a time (the engine refuses more than its queue holds). */
export async function expectedMany(engine: Engine, items: readonly { prompt: string; maxTokens: number; seed: number }[]): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < items.length; i += 32)
    out.push(...(await Promise.all(items.slice(i, i + 32).map((x) => expectedTokens(engine, x.prompt, x.maxTokens, x.seed)))));
  return out;
}

export interface GatewayProc extends Proc {
  readonly port: number;
}

/** The distributed gateway as its own process (apps/gateway/src/main.ts), serving once its tokenizer is loaded. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProc> {
  const p = spawnTs('apps/gateway/src/main.ts', { TRINE_LISTEN: '127.0.0.1:0', ...env });
  const listening = await p.waitFor('gateway listening (NOT_SERVING until the tokenizer is loaded)', 90_000);
  await p.waitFor('gateway serving', 90_000);
  return Object.assign(p, { port: listening.port as number });
}

/** A worker process with short locks, so a dead worker's jobs are picked up again within about a second. */
export function startWorkerProcess(env: Record<string, string>): Proc {
  return spawnTs('apps/worker/src/main.ts', {
    TRINE_MAX_BATCH: '8',
    TRINE_LOCK_DURATION_MS: '1000',
    TRINE_STALLED_INTERVAL_MS: '300',
    TRINE_SHUTDOWN_GRACE_MS: '100',
    ...env,
  });
}

export function kill(procs: readonly Proc[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function until(cond: () => boolean, timeoutMs = 30_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Watched {
  readonly msgs: GenerateStreamResponse[];
  /** Resolves with the final status: 'OK' or the error; never rejects (every call carries a deadline). */
  readonly ended: Promise<{ ok: true } | { ok: false; error: ServiceError }>;
  tokens(): number;
  /** Time of the first message, performance.now(). */
  firstAt?: number;
}

export function watch(s: ClientReadableStream<GenerateStreamResponse>): Watched {
  const msgs: GenerateStreamResponse[] = [];
  const w: Watched = {
    msgs,
    ended: new Promise((resolve) => {
      s.on('data', (m: GenerateStreamResponse) => {
        if (msgs.length === 0) w.firstAt = performance.now();
        msgs.push(m);
      });
      s.on('end', () => resolve({ ok: true }));
      s.on('error', (error: ServiceError) => resolve({ ok: false, error }));
    }),
    tokens: () => msgs.reduce((n, m) => n + m.tokens.length, 0),
  };
  return w;
}

/** Compares a finished stream with the oracle's tokens: lost, duplicated, reordered or wrong tokens, restart markers. */
export function audit(msgs: readonly GenerateStreamResponse[], want: readonly number[]): { lost: number; dup: number; reordered: number; wrong: number; restarts: number; done: boolean } {
  const toks = msgs.flatMap((m) => m.tokens);
  const seen = new Set<number>();
  let dup = 0;
  let reordered = 0;
  let wrong = 0;
  let prev = -1;
  for (const t of toks) {
    if (seen.has(t.index)) dup++;
    else if (t.index < prev) reordered++;
    seen.add(t.index);
    prev = Math.max(prev, t.index);
    if (want[t.index] !== t.id) wrong++;
  }
  const done = msgs.at(-1)?.done === true;
  const lost = done ? want.filter((_, i) => !seen.has(i)).length : 0;
  return { lost, dup, reordered, wrong, restarts: msgs.filter((m) => m.restarted).length, done };
}
