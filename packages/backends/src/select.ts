/**
 * The one backend selection policy:
 *   forced    `--backend` / `TRINE_BACKEND` names it; no fallback (a forced backend that cannot start is an error).
 *   measured  every backend that loads runs a short greedy generation on the served model; one whose tokens differ
 *             from the reference backend's is out; the fastest of the rest wins. Cached per host (see cache.ts).
 *   cached    the measurement a previous run made on this host, for these backend packages, this model and threads.
 *   fallback  measuring is not possible (turned off, or the reference backend cannot run the trial): the first
 *             backend that starts, by catalog priority.
 */
import {
  Engine,
  TrineError,
  defaultCacheDir,
  ensureDefaultModel,
  openModel,
  resolveBackend,
  type BackendFactory,
  type BackendOptions,
  type EngineLoadOptions,
  type KernelBackend,
  type TextGenerator,
} from '@trine/core';
import { createHash } from 'node:crypto';
import { catalogEntry, firstLine, loadCatalog, packageVersions, type BackendName, type LoadedBackend } from './catalog.js';
import { cpuModel, measurementFile, readMeasurement, writeMeasurement, type BackendTrial, type MeasurementKey } from './cache.js';
import type { BackendSettings } from './env.js';

/** A generator built on one backend for the trial, and a way to free it. */
export interface TrialEngine {
  readonly generator: TextGenerator;
  close(): Promise<void>;
  /** What the trial's backend chose by measuring (KernelBackend.tuning), read after the timed run. */
  tuning?(): readonly string[];
}

export type OpenTrial = (factory: BackendFactory) => Promise<TrialEngine>;

const TRIAL_PROMPT = 'The quick brown fox';
const TRIAL_TOKENS = 8;
const TRIAL_CONTEXT = 64;

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
 * Runs the trial on each candidate and returns the chosen one plus every trial's outcome. The reference backend's
 * tokens are the oracle: when it is missing or fails, nothing can be gated and this throws BACKEND_UNAVAILABLE.
 * `forced` skips the trial (an unknown or unavailable forced backend is BACKEND_UNAVAILABLE naming `forcedBy`).
 */
export async function chooseBackend(
  candidates: readonly LoadedBackend[],
  open: OpenTrial,
  forced?: string,
  forcedBy = 'TRINE_BACKEND',
): Promise<{ chosen: LoadedBackend & { factory: BackendFactory }; trials: BackendTrial[] }> {
  if (forced !== undefined) {
    const c = candidates.find((x) => x.name === forced);
    if (c?.factory === undefined) {
      throw new TrineError('BACKEND_UNAVAILABLE', `${forcedBy}=${forced}: ${c?.unavailable ?? 'not a backend this install has'}`, { field: forcedBy });
    }
    return { chosen: { name: c.name, factory: c.factory }, trials: [{ name: c.name, ok: true, reason: `forced by ${forcedBy}` }] };
  }
  const trials: BackendTrial[] = [];
  let oracle: number[] | undefined;
  let best: { c: LoadedBackend & { factory: BackendFactory }; ms: number } | undefined;
  // The reference backend runs first: it is the oracle.
  const ordered = [...candidates].sort((a, b) => Number(b.name === 'reference') - Number(a.name === 'reference'));
  for (const c of ordered) {
    if (c.factory === undefined) {
      trials.push({ name: c.name, ok: false, reason: c.unavailable });
      continue;
    }
    let trial: TrialEngine | undefined;
    try {
      trial = await open(c.factory);
      await greedyRun(trial.generator); // warm caches / JIT / shader compilation before timing
      const run = await greedyRun(trial.generator);
      if (c.name === 'reference') oracle = run.ids;
      else if (oracle === undefined) throw new Error('no reference tokens to compare with');
      else if (run.ids.join() !== oracle.join()) {
        trials.push({ name: c.name, ok: false, reason: `conformance: greedy tokens [${run.ids.join()}] differ from reference [${oracle.join()}]` });
        continue;
      }
      const tuning = trial.tuning?.() ?? [];
      trials.push({ name: c.name, ok: true, msPerToken: run.msPerToken, ...(tuning.length > 0 ? { tuning } : {}) });
      if (!best || run.msPerToken < best.ms) best = { c: { ...c, factory: c.factory }, ms: run.msPerToken };
    } catch (e) {
      if (c.name === 'reference') {
        throw new TrineError('BACKEND_UNAVAILABLE', `the reference backend could not run the trial: ${firstLine(e)}`, { field: 'backend', cause: e });
      }
      trials.push({ name: c.name, ok: false, reason: firstLine(e) });
    } finally {
      await trial?.close().catch(() => undefined);
    }
  }
  if (oracle === undefined) throw new TrineError('BACKEND_UNAVAILABLE', 'the reference backend is not among the candidates', { field: 'backend' });
  return { chosen: best!.c, trials };
}

export interface Selection {
  readonly name: BackendName;
  readonly factory: BackendFactory;
  readonly how: 'forced' | 'measured' | 'cached' | 'fallback';
  /** Why, in words: "forced by TRINE_BACKEND", "measured on this host: …", "cached measurement from …", "fallback …". */
  readonly reason: string;
  readonly trials: readonly BackendTrial[];
  /** When the measurement ran (measured and cached). */
  readonly measuredAt?: string;
}

/** "cpu (measured on this host: …)": for `--verbose`, `trine info` and the worker's log. */
export function describeSelection(s: Selection): string {
  return `${s.name} (${s.reason})`;
}

function summary(trials: readonly BackendTrial[]): string {
  const ok = trials.filter((t) => t.ok && t.msPerToken !== undefined).sort((a, b) => a.msPerToken! - b.msPerToken!);
  const out = ok.map((t: BackendTrial) => `${t.name} ${t.msPerToken!.toFixed(2)} ms/token`);
  for (const t of trials.filter((x) => !x.ok)) out.push(`${t.name} out: ${t.reason ?? 'unavailable'}`);
  return out.join('; ');
}

function utcMinute(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** sha256 of what makes a model run fast or slow on a backend: its name, format, config and tensor shapes and types. */
export async function modelFingerprint(model: string | Uint8Array): Promise<string> {
  const m = await openModel(model);
  try {
    const tensors = m.tensors.map((t) => [t.name, t.type, t.shape.join('x')].join(' '));
    return createHash('sha256').update(JSON.stringify({ name: m.name, format: m.format, config: m.config, tensors })).digest('hex');
  } finally {
    await m.close();
  }
}

export interface SelectOptions {
  /** GGUF file or Hugging Face directory, or GGUF bytes (measured but not cached); absent: the default model. */
  readonly model?: string | Uint8Array;
  /** Forced backend and threads, from `backendSettings()`. */
  readonly settings?: BackendSettings;
  /** The Trine cache dir (default $TRINE_CACHE_DIR or ~/.cache/trine): the default model and the measurements. */
  readonly cacheDir?: string;
  /** false: no trial, fall back by priority. Default true. */
  readonly measure?: boolean;
  /** The backends to choose from (default: the catalog, loaded). */
  readonly candidates?: readonly LoadedBackend[];
  /** Builds the trial engine (default: `Engine.load` of the model on the factory, one sequence, 64 positions). */
  readonly open?: OpenTrial;
}

async function fallback(candidates: readonly LoadedBackend[], threads: number | undefined, why: string, trials: BackendTrial[]): Promise<Selection> {
  // Tried by the catalog's priority (the one list), not the factories' own field.
  let started: { name: BackendName; factory: BackendFactory } | undefined;
  const ranked: BackendFactory[] = [];
  for (const c of candidates) {
    if (!c.factory) continue;
    const factory = c.factory;
    ranked.push({
      name: c.name,
      priority: catalogEntry(c.name).priority,
      async create(options?: BackendOptions) {
        const backend = await factory.create(options);
        started = { name: c.name, factory };
        return backend;
      },
    });
  }
  (await resolveBackend({ candidates: ranked, ...(threads !== undefined ? { options: { threads } } : {}) })).destroy();
  const chosen = started!;
  const out = candidates.filter((c) => !c.factory).map((c) => `${c.name}: ${c.unavailable}`);
  return {
    name: chosen.name,
    factory: chosen.factory,
    how: 'fallback',
    reason: `fallback by priority because ${why}${out.length ? `; ${out.join('; ')}` : ''}`,
    trials,
  };
}

/** Choose the backend for a model on this host (see the policy above). */
export async function selectBackend(opts: SelectOptions = {}): Promise<Selection> {
  const settings = opts.settings ?? {};
  const threads = settings.threads;
  if (settings.backend !== undefined) {
    const candidates = opts.candidates ?? (await loadCatalog([settings.backend]));
    const forcedBy = settings.forcedBy ?? 'TRINE_BACKEND';
    const { chosen, trials } = await chooseBackend(candidates, () => Promise.reject(new Error('unused')), settings.backend, forcedBy);
    return { name: chosen.name, factory: chosen.factory, how: 'forced', reason: `forced by ${forcedBy}`, trials };
  }
  const candidates = opts.candidates ?? (await loadCatalog());
  if (opts.measure === false) return fallback(candidates, threads, 'measuring is turned off', []);

  const cacheDir = opts.cacheDir ?? (await defaultCacheDir());
  const model = opts.model ?? (await ensureDefaultModel({ cacheDir }));
  const open: OpenTrial =
    opts.open ??
    (async (factory) => {
      // No prefix cache: every timed run of the trial prompt must prefill it, on every backend alike.
      let backend: KernelBackend | undefined;
      const keep: BackendFactory = { ...factory, create: async (o) => (backend = await factory.create(o)) };
      const engine = await Engine.load({ model, backend: keep, maxBatch: 1, context: TRIAL_CONTEXT, prefixCacheTokens: 0, ...(threads !== undefined ? { threads } : {}) });
      return { generator: engine, close: () => engine.close(), tuning: () => backend?.tuning?.() ?? [] };
    });
  // Bytes have no stable identity worth a file on disk: they are measured every time.
  const key: MeasurementKey | undefined =
    typeof model === 'string' ? { cpu: cpuModel(), packages: packageVersions(), model: await modelFingerprint(model), threads: threads ?? 'default' } : undefined;
  const file = key ? measurementFile(cacheDir, key) : undefined;
  if (key && file) {
    const cached = await readMeasurement(file, key);
    const c = cached && candidates.find((x) => x.name === cached.chosen);
    // A cached choice whose package no longer loads is measured again.
    if (cached && c?.factory) {
      return {
        name: c.name,
        factory: c.factory,
        how: 'cached',
        reason: `cached measurement from ${utcMinute(cached.measuredAt)}: ${summary(cached.trials)}`,
        trials: cached.trials,
        measuredAt: cached.measuredAt,
      };
    }
  }
  let measured: Awaited<ReturnType<typeof chooseBackend>>;
  try {
    measured = await chooseBackend(candidates, open);
  } catch (e) {
    return fallback(candidates, threads, firstLine(e), []);
  }
  const measuredAt = new Date().toISOString();
  if (key && file) {
    // A cache that cannot be written (read-only home) costs a measurement next time, nothing more.
    await writeMeasurement(file, { version: 1, key, chosen: measured.chosen.name, trials: measured.trials, measuredAt }).catch(() => undefined);
  }
  return {
    name: measured.chosen.name,
    factory: measured.chosen.factory,
    how: 'measured',
    reason: `measured on this host: ${summary(measured.trials)}`,
    trials: measured.trials,
    measuredAt,
  };
}

/** `Engine.load` on the selected backend: what the CLI, the worker and the standalone gateway run. */
export async function loadEngine(
  options: Omit<EngineLoadOptions, 'backend' | 'threads' | 'model'> & Omit<SelectOptions, 'candidates' | 'open'>,
): Promise<{ engine: Engine; selection: Selection }> {
  const { settings = {}, measure, ...load } = options;
  // The default model is resolved once, so the trial and the engine run the same file.
  const model = options.model ?? (settings.backend === undefined && measure !== false ? await ensureDefaultModel(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}) : undefined);
  const selection = await selectBackend({ ...options, ...(model !== undefined ? { model } : {}) });
  try {
    const engine = await Engine.load({
      ...load,
      ...(model !== undefined ? { model } : {}),
      backend: selection.factory,
      ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
      ...(settings.lmHead !== undefined && load.lmHeadFormat === undefined ? { lmHeadFormat: settings.lmHead } : {}),
    });
    return { engine, selection };
  } catch (e) {
    // A forced backend that cannot start names what forced it.
    if (selection.how !== 'forced' || !TrineError.is(e, 'BACKEND_UNAVAILABLE')) throw e;
    const forcedBy = settings.forcedBy ?? 'TRINE_BACKEND';
    throw new TrineError('BACKEND_UNAVAILABLE', `${forcedBy}=${selection.name}: ${e.message}`, { field: forcedBy, cause: e });
  }
}
