/** Backend choice on this host with the real engine and the real backend packages that load here. */
import { Engine, registerBackend, type BackendFactory } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { chooseBackend, probeBackends } from './select-backend.js';

async function open(factory: BackendFactory) {
  registerBackend(factory);
  const engine = await Engine.load({ backend: factory.name, maxBatch: 1, context: 64 });
  return { generator: engine, close: () => engine.close() };
}

describe('backend selection', () => {
  it('probes every backend package, gates on the reference tokens, picks the fastest that passed', async () => {
    const candidates = await probeBackends();
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
    const candidates = await probeBackends();
    const forced = await chooseBackend(candidates, open, 'reference');
    expect(forced.chosen.name).toBe('reference');
    await expect(chooseBackend(candidates, open, 'tpu')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', field: 'TRINE_BACKEND' });
  });
});
