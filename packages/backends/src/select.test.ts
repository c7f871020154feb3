/**
 * Backend choice on this host with the real engine, the default model and the real backend packages that load here
 * (reference, cpu and wasm in Node; webgpu where Dawn finds an adapter, else it is reported unavailable).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, ensureDefaultModel, type BackendFactory } from '@trine/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry, loadCatalog, type LoadedBackend } from './catalog.js';
import { chooseBackend, describeSelection, loadEngine, selectBackend, type OpenTrial } from './select.js';

let cacheDir: string;
let model: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'trine-backends-'));
  model = await ensureDefaultModel({ cacheDir });
});
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

const open: OpenTrial = async (factory: BackendFactory) => {
  const engine = await Engine.load({ model, backend: factory, maxBatch: 1, context: 64 });
  return { generator: engine, close: () => engine.close() };
};

/** The highest-priority candidate that starts here: what a fallback must pick. */
async function firstThatStarts(candidates: readonly LoadedBackend[]): Promise<string> {
  const ranked = candidates.filter((c) => c.factory).sort((a, b) => catalogEntry(b.name).priority - catalogEntry(a.name).priority);
  for (const c of ranked) {
    try {
      (await c.factory!.create()).destroy();
      return c.name;
    } catch {
      // next
    }
  }
  throw new Error('nothing starts');
}

const measurementFiles = async (): Promise<string[]> => (await readdir(join(cacheDir, 'backends')).catch(() => [])).filter((f) => f.endsWith('.json'));

describe('chooseBackend (the trial)', () => {
  it('loads every backend of the catalog, gates on the reference tokens, picks the fastest that passed', async () => {
    const candidates = await loadCatalog();
    expect(candidates.map((c) => c.name)).toEqual(['reference', 'cpu', 'wasm', 'webgpu']);
    const { chosen, trials } = await chooseBackend(candidates, open);
    expect(trials).toHaveLength(4);
    expect(trials[0]).toMatchObject({ name: 'reference', ok: true });
    const passed = trials.filter((t) => t.ok);
    const fastest = passed.reduce((a, b) => (b.msPerToken! < a.msPerToken! ? b : a));
    expect(chosen.name).toBe(fastest.name);
    // Packages that are absent or fail say why instead of disappearing.
    for (const t of trials.filter((x) => !x.ok)) expect(t.reason).toBeTruthy();
  }, 120_000);

  it('TRINE_BACKEND forces one, and an unknown or unavailable one is an error naming the variable', async () => {
    const candidates = await loadCatalog();
    const forced = await chooseBackend(candidates, open, 'reference');
    expect(forced.chosen.name).toBe('reference');
    await expect(chooseBackend(candidates, open, 'tpu')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', field: 'TRINE_BACKEND' });
  });
});

describe('selectBackend', () => {
  it('forced: no trial, no cache; a forced backend this install cannot load is BACKEND_UNAVAILABLE naming the flag', async () => {
    const s = await selectBackend({ settings: { backend: 'wasm', forcedBy: '--backend' }, cacheDir });
    expect(s).toMatchObject({ name: 'wasm', how: 'forced', reason: 'forced by --backend' });
    expect(describeSelection(s)).toBe('wasm (forced by --backend)');
    const missing = await loadCatalog(['cpu'], () => Promise.reject(new Error("Cannot find package '@trine/kernels-cpu'")));
    const p = selectBackend({ settings: { backend: 'cpu', forcedBy: 'TRINE_BACKEND' }, candidates: missing, cacheDir });
    await expect(p).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', field: 'TRINE_BACKEND' });
    await expect(p).rejects.toThrow(/TRINE_BACKEND=cpu: @trine\/kernels-cpu did not load: Cannot find package/);
    expect(await measurementFiles()).toEqual([]);
  });

  it('measured once, then cached per host: the second run needs no trial', async () => {
    const first = await selectBackend({ model, cacheDir });
    expect(first.how).toBe('measured');
    expect(first.trials.map((t) => t.name)).toEqual(['reference', 'cpu', 'wasm', 'webgpu']);
    const fastest = first.trials.filter((t) => t.ok).reduce((a, b) => (b.msPerToken! < a.msPerToken! ? b : a));
    expect(first.name).toBe(fastest.name);
    expect(first.reason).toMatch(/^measured on this host: \w+ \d+\.\d\d ms\/token/);
    expect(await measurementFiles()).toHaveLength(1);

    // A trial now would fail (and fall back): only the cache can answer 'cached' with the measured choice.
    const noTrial: OpenTrial = () => Promise.reject(new Error('no trial expected'));
    const again = await selectBackend({ model, cacheDir, open: noTrial });
    expect(again).toMatchObject({ name: first.name, how: 'cached', measuredAt: first.measuredAt, trials: first.trials });
    expect(again.reason).toMatch(/^cached measurement from \d{4}-\d\d-\d\d \d\d:\d\d UTC: /);

    // Another thread count is another measurement.
    const other = await selectBackend({ model, cacheDir, settings: { threads: 1 }, open: noTrial });
    expect(other.how).toBe('fallback');
  }, 120_000);

  it('a corrupt cache file is ignored, measured again and rewritten', async () => {
    await selectBackend({ model, cacheDir });
    const [file] = await measurementFiles();
    const path = join(cacheDir, 'backends', file!);
    await writeFile(path, '{"version": 1, "chosen": "cpu", "trials": [');
    const s = await selectBackend({ model, cacheDir });
    expect(s.how).toBe('measured');
    const rewritten = JSON.parse(await readFile(path, 'utf8')) as { chosen: string; version: number };
    expect(rewritten).toMatchObject({ version: 1, chosen: s.name });
    await writeFile(path, JSON.stringify({ ...rewritten, chosen: 'tpu' }));
    expect((await selectBackend({ model, cacheDir })).how).toBe('measured');
  }, 120_000);

  it('falls back by priority when the reference cannot run the trial, or when measuring is off', async () => {
    const candidates = await loadCatalog();
    const expected = await firstThatStarts(candidates);
    const broken: OpenTrial = () => Promise.reject(new Error('out of memory'));
    const fb = await selectBackend({ model, cacheDir: join(cacheDir, 'other'), candidates, open: broken });
    expect(fb).toMatchObject({ name: expected, how: 'fallback' });
    expect(fb.reason).toMatch(/^fallback by priority because the reference backend could not run the trial: out of memory/);
    const off = await selectBackend({ measure: false, candidates });
    expect(off).toMatchObject({ name: expected, how: 'fallback' });
    expect(off.reason).toMatch(/^fallback by priority because measuring is turned off/);
  }, 120_000);
});

describe('loadEngine', () => {
  it('loads the model on the selected backend and says why', async () => {
    const { engine, selection } = await loadEngine({ model, cacheDir, settings: { backend: 'reference', forcedBy: 'TRINE_BACKEND' }, maxBatch: 1, context: 64 });
    try {
      expect(engine.backendInfo.name).toBe('reference');
      expect(selection.how).toBe('forced');
    } finally {
      await engine.close();
    }
  });

  it('a forced backend that fails to start is BACKEND_UNAVAILABLE naming what forced it', async () => {
    // 5000 threads passes no parser (settings built by hand): the cpu backend refuses to start with them.
    const p = loadEngine({ model, cacheDir, settings: { backend: 'cpu', forcedBy: '--backend', threads: 5000 }, maxBatch: 1, context: 64 });
    await expect(p).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', field: '--backend' });
    await expect(p).rejects.toThrow(/^--backend=cpu: backend 'cpu' failed to start: /);
  });
});
