/**
 * Per-host backend choice: probe every backend package that loads, gate each on a quick conformance check (greedy
 * tokens on the served model must equal the reference backend's), time a short generation on the served model's
 * own shapes, keep the fastest. TRINE_BACKEND forces one (no fallback: a forced backend that fails is an error).
 */
import { TrineError, referenceBackendFactory, type BackendFactory, type TextGenerator } from '@trine/core';
import type { BackendTrial } from './engine-messages.js';

/** Backend packages and the factory each exports. Missing or failing packages are skipped (and reported). */
const BACKEND_PACKAGES: readonly { name: string; pkg: string; exportName: string }[] = [
  { name: 'cpu', pkg: '@trine/kernels-cpu', exportName: 'cpuBackendFactory' },
  { name: 'wasm', pkg: '@trine/kernels-wasm', exportName: 'wasmBackendFactory' },
  { name: 'webgpu', pkg: '@trine/kernels-webgpu', exportName: 'webgpuBackendFactory' },
];

export interface Candidate {
  readonly name: string;
  readonly factory?: BackendFactory;
  /** Why it cannot even be tried (package missing, no export). */
  readonly unavailable?: string;
}

export async function probeBackends(only?: string): Promise<Candidate[]> {
  const out: Candidate[] = [{ name: 'reference', factory: referenceBackendFactory }];
  for (const b of BACKEND_PACKAGES) {
    if (only !== undefined && only !== b.name) continue;
    try {
      const mod = (await import(/* @vite-ignore */ b.pkg)) as Record<string, unknown>;
      const factory = mod[b.exportName] as BackendFactory | undefined;
      out.push(factory ? { name: b.name, factory } : { name: b.name, unavailable: `${b.pkg} has no ${b.exportName}` });
    } catch (e) {
      out.push({ name: b.name, unavailable: `${b.pkg} did not load: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  return only === undefined ? out : out.filter((c) => c.name === only);
}

/** A generator built on one backend for the trial, and a way to free it. */
export interface TrialEngine {
  readonly generator: TextGenerator;
  close(): Promise<void>;
}

const TRIAL_PROMPT = 'The quick brown fox';
const TRIAL_TOKENS = 8;

async function greedyRun(g: TextGenerator): Promise<{ ids: number[]; msPerToken: number }> {
  const ids: number[] = [];
  let first = 0;
  let last = 0;
  for await (const ev of g.generate({
    prompt: TRIAL_PROMPT,
    sampling: { maxTokens: TRIAL_TOKENS, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, stop: [], topLogprobs: 0, seed: 0 },
  })) {
    if (ev.type === 'token') {
      ids.push(ev.tokenId);
      if (first === 0) first = performance.now();
      last = performance.now();
    }
  }
  return { ids, msPerToken: ids.length > 1 ? (last - first) / (ids.length - 1) : Number.POSITIVE_INFINITY };
}

/**
 * Runs the trial on each candidate and returns the chosen backend's name plus every trial's outcome.
 * `open` builds a small engine on a backend factory (the caller owns model loading).
 */
export async function chooseBackend(
  candidates: readonly Candidate[],
  open: (factory: BackendFactory) => Promise<TrialEngine>,
  forced?: string,
): Promise<{ chosen: Candidate; trials: BackendTrial[] }> {
  if (forced !== undefined) {
    const c = candidates.find((x) => x.name === forced);
    if (!c?.factory)
      throw new TrineError('BACKEND_UNAVAILABLE', `TRINE_BACKEND=${forced}: ${c?.unavailable ?? 'unknown backend (reference, cpu, wasm, webgpu)'}`, { field: 'TRINE_BACKEND' });
    return { chosen: c, trials: [{ name: c.name, ok: true, reason: 'forced by TRINE_BACKEND' }] };
  }
  const trials: BackendTrial[] = [];
  let oracle: number[] | undefined;
  let best: { c: Candidate; ms: number } | undefined;
  for (const c of candidates) {
    if (!c.factory) {
      trials.push({ name: c.name, ok: false, reason: c.unavailable ?? 'unavailable' });
      continue;
    }
    let trial: TrialEngine | undefined;
    try {
      trial = await open(c.factory);
      await greedyRun(trial.generator); // warm caches / JIT / shader compilation before timing
      const run = await greedyRun(trial.generator);
      if (oracle === undefined) oracle = run.ids; // the reference backend runs first: it is the oracle
      else if (run.ids.join() !== oracle.join()) {
        trials.push({ name: c.name, ok: false, reason: `conformance: greedy tokens [${run.ids.join()}] differ from reference [${oracle.join()}]` });
        continue;
      }
      trials.push({ name: c.name, ok: true, msPerToken: run.msPerToken });
      if (!best || run.msPerToken < best.ms) best = { c, ms: run.msPerToken };
    } catch (e) {
      trials.push({ name: c.name, ok: false, reason: e instanceof Error ? e.message : String(e) });
    } finally {
      await trial?.close().catch(() => undefined);
    }
  }
  if (!best) throw new TrineError('BACKEND_UNAVAILABLE', `no backend passed the start-up check (${trials.map((t) => `${t.name}: ${t.reason}`).join('; ')})`);
  return { chosen: best.c, trials };
}
