// The fused rmsNorm + quantizeActs dispatch (rms_norm_quantize) must be bit-identical to the two ops recorded
// apart: a real I2_S model (per_token activations, sub-norms) run with fusion on and off gives the same logits,
// bit for bit, through a prefill and decode steps. Also checks the fused path actually ran (fewer dispatches).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BitNetModel, openModel, type Handles } from '@trine/core';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { useSwiftShader } from './swiftshader.js';

useSwiftShader();

const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/tiny-bitnet25-i2_s.gguf', import.meta.url));

async function run(fuse: boolean): Promise<{ logits: Uint32Array[]; dispatches: number }> {
  const be: WebGpuBackend = await createWebGpuBackend({ fuse });
  const source = await openModel(FIXTURE);
  const model = (await BitNetModel.load(source, be, { slots: 1, context: 16, kvDtype: 'f16' })) as BitNetModel<Handles>;
  await source.close();
  const ctx = (be as unknown as { ctx: { dispatch: (...a: unknown[]) => void } }).ctx;
  let dispatches = 0;
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (...a: unknown[]) => {
    dispatches++;
    dispatch(...a);
  };
  const logits: Uint32Array[] = [];
  const prompt = Int32Array.of(1, 17, 42, 7);
  let out = model.forward({ tokens: prompt, positions: Int32Array.of(0, 1, 2, 3), slots: new Int32Array(4), logitsFor: Int32Array.of(2, 3) });
  for (let s = 0; s < 3; s++) {
    const host = await be.read(out, s === 0 ? 2 : 1);
    logits.push(new Uint32Array((host.data as Float32Array).slice().buffer));
    out = model.forward({ tokens: Int32Array.of(5 + s), positions: Int32Array.of(4 + s), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
  }
  model.dispose();
  be.destroy();
  return { logits, dispatches };
}

describe.skipIf(!existsSync(FIXTURE))('rmsNorm + quantizeActs fusion', () => {
  it('gives bit-identical logits to the unfused ops, in fewer dispatches', async () => {
    const fused = await run(true);
    const apart = await run(false);
    expect(fused.logits.length).toBe(3);
    for (let i = 0; i < fused.logits.length; i++) expect(fused.logits[i]).toEqual(apart.logits[i]);
    expect(fused.dispatches).toBeLessThan(apart.dispatches);
  }, 120_000);
});
