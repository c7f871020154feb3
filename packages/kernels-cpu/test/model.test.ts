import { existsSync, readFileSync } from 'node:fs';
import { BitNetModel, createReferenceBackend, openModel, type Handles, type KernelBackend } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { createCpuBackend, loadNative } from '../src/index.js';

// Greedy tokens on the fixture models written by bitnet.cpp (I2_S) and llama.cpp (TQ2_0, TQ1_0) equal the
// reference backend's, on every code path, prompt in one step then one token per step.
const dir = process.env.TRINE_FIXTURES ?? '/work/shared/fixtures';
const host = loadNative().hostInfo();
const variants = ['scalar', ...(host.avx2 ? ['avx2'] : []), ...(host.avx512vnni ? ['avx512'] : []),
  ...(host.built.includes('neon') ? ['neon'] : []), ...(host.neonDot ? ['dotprod'] : []), ...(host.best === 'i8mm' ? ['i8mm'] : [])];
const STEPS = 12;

async function greedy<H extends Handles>(file: string, be: KernelBackend<H>, prompt: Int32Array): Promise<number[]> {
  const source = await openModel(file);
  const model = await BitNetModel.load<H>(source, be, { slots: 1, context: 64 });
  await source.close();
  const ids = be.alloc('i32', [1]);
  const argmax = async (logits: H['tensor']) => {
    be.argmax(ids, logits, 1);
    return ((await be.read(ids)).data as Int32Array)[0]!;
  };
  const out: number[] = [];
  const n = prompt.length;
  let next = await argmax(model.forward({ tokens: prompt, positions: Int32Array.from(prompt, (_, i) => i), slots: new Int32Array(n), logitsFor: Int32Array.of(n - 1) }));
  out.push(next);
  for (let i = 0; i < STEPS - 1; i++) {
    next = await argmax(model.forward({ tokens: Int32Array.of(next), positions: Int32Array.of(n + i), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) }));
    out.push(next);
  }
  model.dispose();
  return out;
}

for (const name of ['tiny-bitnet25-i2_s', 'tiny-bitnet-tq2_0', 'tiny-bitnet-tq1_0']) {
  const file = `${dir}/${name}.gguf`;
  describe.skipIf(!existsSync(file))(`greedy tokens on ${name}`, () => {
    const ref = JSON.parse(readFileSync(`${dir}/${name}.reference.json`, 'utf8')) as { prompts: { token_ids: number[] }[] };
    const prompt = Int32Array.from(ref.prompts[0]!.token_ids);
    let expected: number[] | undefined;
    const reference = async () => (expected ??= await greedy(file, createReferenceBackend(), prompt));
    for (const variant of variants) {
      it(`cpu ${variant} equals the reference backend`, async () => {
        const be = createCpuBackend({ variant, threads: 2 });
        try {
          const want = await reference();
          expect(want).toHaveLength(STEPS);
          expect(await greedy(file, be, prompt)).toEqual(want);
        } finally {
          be.destroy();
        }
      });
    }
  });
}

describe('hostMemory', () => {
  it('gives zeroed memory of the size asked, refuses a bad size, and the f16 LM head read into it gives the same logits', async () => {
    const be = createCpuBackend({ threads: 1 });
    try {
      const m = be.hostMemory(5000);
      expect(m.byteLength).toBe(5000);
      expect(m.every((b) => b === 0)).toBe(true);
      expect(() => be.hostMemory(-1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      const file = `${dir}/tiny-bitnet25-i2_s.gguf`;
      if (!existsSync(file)) return;
      const logits = async (backend: KernelBackend<Handles>) => {
        const source = await openModel(file);
        const model = await BitNetModel.load(source, backend, { slots: 1, context: 16 });
        await source.close();
        const out = (await backend.read(model.forward({ tokens: Int32Array.of(1, 2, 3), positions: Int32Array.of(0, 1, 2), slots: new Int32Array(3), logitsFor: Int32Array.of(2) }))).data;
        model.dispose();
        return Array.from(out as Float32Array);
      };
      const plain: KernelBackend<Handles> = Object.create(be, { hostMemory: { value: undefined } });
      let asked = 0;
      const counted: KernelBackend<Handles> = Object.create(be, { hostMemory: { value: (n: number) => (asked++, be.hostMemory(n)) } });
      const a = await logits(counted);
      expect(asked).toBe(1); // the fixture's F16 token embedding (tied LM head)
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(await logits(plain));
    } finally {
      be.destroy();
    }
  });
});
