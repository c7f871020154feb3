import { describe, expect, it } from 'vitest';
import { TrineError } from '../errors/index.js';
import type { BitNetConfig } from '../model/config.js';
import { createReferenceBackend, referenceBackendFactory } from '../reference/backend.js';
import { missingOps, requiredVariants, resolveBackend } from './registry.js';
import type { BackendFactory } from './spec.js';

const failing = (name: string, priority: number, why: string): BackendFactory => ({
  name,
  priority,
  async create() {
    throw new TrineError('BACKEND_UNAVAILABLE', why);
  },
});

describe('resolveBackend', () => {
  it('tries factories best first and falls back past failures', async () => {
    const b = await resolveBackend({ candidates: [referenceBackendFactory, failing('webgpu', 30, 'no adapter'), failing('cpu', 20, 'no addon')] });
    expect(b.info.name).toBe('reference');
  });
  it('throws one BACKEND_UNAVAILABLE listing every failure', async () => {
    const p = resolveBackend({ candidates: [failing('wasm', 10, 'no SIMD'), failing('cpu', 20, 'no addon')] });
    await expect(p).rejects.toSatisfy((e: unknown) => TrineError.is(e, 'BACKEND_UNAVAILABLE'));
    await expect(p).rejects.toThrow(/cpu: no addon; wasm: no SIMD/);
  });
  it('a forced backend runs or fails naming why, without fallback', async () => {
    const cands = [referenceBackendFactory, failing('cpu', 20, 'addon missing')];
    expect((await resolveBackend({ force: 'reference', candidates: cands })).info.name).toBe('reference');
    await expect(resolveBackend({ force: 'cpu', candidates: cands })).rejects.toThrow(/'cpu' failed to start: addon missing/);
    await expect(resolveBackend({ force: 'tpu', candidates: cands })).rejects.toThrow(/'tpu' is not available \(known: cpu, reference\)/);
  });
  it('with nothing to choose from says so', async () => {
    await expect(resolveBackend({ candidates: [] })).rejects.toThrow(/no backend to choose from/);
  });
});

describe('missingOps', () => {
  const config: BitNetConfig = {
    arch: 'bitnet', hidden: 256, layers: 2, heads: 4, kvHeads: 2, headDim: 64, ffn: 768, vocab: 768, context: 256,
    ropeTheta: 5e5, ropeDim: 64, rmsEps: 1e-5, activation: 'silu', actQuant: 'per_block256',
  };
  it('lists the variants of a config the backend lacks, with reasons', () => {
    const be = createReferenceBackend();
    expect(missingOps(be, config)).toEqual([]);
    be.supports = (v) => ('scheme' in v && v.scheme === 'per_block256' ? { ok: false, reason: 'no Q8_K' } : { ok: true });
    const miss = missingOps(be, config);
    expect(miss.map((m) => m.key)).toEqual(['op=quantizeActs,scheme=per_block256', 'op=ternaryMatmul,scheme=per_block256']);
    expect(miss[0]!.reason).toBe('no Q8_K');
    expect(requiredVariants(config, { lmHeadFormat: 'q8' })).toContainEqual({ op: 'lmHead', format: 'q8' });
  });
});
