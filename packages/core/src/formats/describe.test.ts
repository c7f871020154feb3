import { describe, expect, it } from 'vitest';
import { describeModel, formatModelDescription, kvCacheBytes } from './describe.js';
import { openModel } from './open-model.js';
import { fixturePath, haveFixtures, readReference } from './test-support/fixtures.js';
import { buildTinyModel } from './test-support/tiny-model.js';

describe('describeModel', () => {
  it.skipIf(!haveFixtures())('describes the TQ2_0 fixture: types, counts, bytes, tokenizer, memory', async () => {
    const ref = readReference('tiny-bitnet-tq2_0');
    const d = await describeModel(fixturePath('tiny-bitnet-tq2_0'));
    expect(d.config.arch).toBe('bitnet');
    expect(d.tensorCount).toBe(24);
    const byType = Object.fromEntries(d.tensorTypes.map((t) => [t.type, [t.count, t.bytes]]));
    const sum = (type: string) => ref.tensors.filter((t) => t.type === type).reduce((a, t) => a + t.nbytes, 0);
    expect(byType).toEqual({ TQ2_0: [14, sum('TQ2_0')], F16: [1, 393216], F32: [9, sum('F32')] });
    const elements = ref.tensors.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
    expect(d.parameters).toBe(elements);
    expect(d.tokenizer).toMatchObject({ model: 'gpt2', pre: 'llama-bpe', vocab: 768, bosId: 763, eosId: 764, eotId: 767, addBos: true });
    expect(d.chatTemplate).toBe(ref.chat.template);
    // 2 layers × 256 positions × 2 KV heads × 64 × 2 (K, V) × 2 bytes
    expect(d.memory.kvCacheBytes).toBe(2 * 256 * 2 * 64 * 2 * 2);
    expect(d.memory.totalBytes).toBe(d.memory.weightsBytes + d.memory.kvCacheBytes);
    const text = formatModelDescription(d);
    expect(text).toMatch(/architecture: bitnet \(silu FFN, activations per_block256\)/);
    expect(text).toMatch(/TQ2_0 +14 tensors/);
    expect(text).toMatch(/chat template: 250 bytes/);
  });

  it('sizes the KV cache for another context and f32, from an open ModelSource', async () => {
    const m = await openModel(buildTinyModel({ layers: 2 }).bytes);
    const d = await describeModel(m, { context: 1000, kvDtype: 'f32' });
    expect(d.memory.kvCacheBytes).toBe(kvCacheBytes(m.config, 1000, 'f32'));
    expect(d.memory.kvCacheBytes).toBe(2 * 2 * 1000 * 2 * 64 * 4);
    await m.close();
  });
});
