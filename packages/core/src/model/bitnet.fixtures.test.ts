/**
 * The forward pass against the engines that wrote the fixtures (../shared/fixtures, README §7–§10): each GGUF is
 * opened by the real loader and run on the reference backend, teacher-forced along the recorded sequences exactly
 * as the engine ran them (the prompt in one step, then one token per step), and compared with every recorded logit.
 * Tolerance 0.3 absolute (README §7: faithful implementations land within ~0.2; structural bugs move ≥ 3).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openModel } from '../formats/open-model.js';
import { FIXTURE_NAMES, fixturePath, fixturesDir, haveFixtures } from '../formats/test-support/fixtures.js';
import { createReferenceBackend } from '../reference/backend.js';
import type { RefHandles, RefTensor } from '../reference/storage.js';
import { BitNetModel } from './bitnet.js';

interface Top2 {
  position: number;
  top1: [number, number];
  top2: [number, number];
  gap: number;
}
interface Recorded {
  prompts: {
    token_ids: number[];
    greedy: { token_ids: number[] };
    top10_first_4_positions: { position: number; top: [number, number][] }[];
    top2_all_positions: Top2[];
  }[];
  logits_prompt0_position0: number[];
  logits_prompt0_position0_when_prompt_fed_one_token_per_decode: number[];
  'near_ties_top2_gap_below_0.25': { prompt: number; position: number; top1: number; top2: number; gap: number }[];
}

const TOLERANCE = 0.3;
const summary: string[] = [];
afterAll(() => {
  if (summary.length) console.log(`\nfixture logit agreement (reference backend):\n${summary.join('\n')}\n`);
});

function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
  return best;
}

describe.skipIf(!haveFixtures())(`fixtures in ${fixturesDir()}`, () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: teacher-forced logits within ${TOLERANCE} of the engine; greedy agrees except at recorded near-ties`, async () => {
      const ref = JSON.parse(readFileSync(`${fixturesDir()}/${name}.reference.json`, 'utf8')) as Recorded;
      const source = await openModel(fixturePath(name));
      const be = createReferenceBackend();
      const model = await BitNetModel.load<RefHandles>(source, be, { slots: 2 });
      await source.close();
      const V = model.config.vocab;
      const row = (t: RefTensor, i: number) => (t.data as Float32Array).slice(i * V, (i + 1) * V);
      let maxDiff = 0;
      let maxFull = 0;
      const divergences: string[] = [];

      for (const [pi, p] of ref.prompts.entries()) {
        const prompt = Int32Array.from(p.token_ids);
        const P = prompt.length;
        const greedy = p.greedy.token_ids;
        const logitsAt: Float32Array[] = [];
        // The prompt in one step (as the engine's single llama_decode), then each recorded greedy token alone.
        let out = model.forward({
          tokens: prompt,
          positions: Int32Array.from(prompt, (_, i) => i),
          slots: new Int32Array(P),
          logitsFor: Int32Array.of(P - 1),
        });
        logitsAt.push(row(out, 0));
        for (let k = 0; k + 1 < greedy.length; k++) {
          out = model.forward({ tokens: Int32Array.of(greedy[k]!), positions: Int32Array.of(P + k), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
          logitsAt.push(row(out, 0));
        }

        for (const { position, top } of p.top10_first_4_positions)
          for (const [id, logit] of top) maxDiff = Math.max(maxDiff, Math.abs(logitsAt[position]![id]! - logit));
        for (const t of p.top2_all_positions) {
          const l = logitsAt[t.position]!;
          maxDiff = Math.max(maxDiff, Math.abs(l[t.top1[0]]! - t.top1[1]), Math.abs(l[t.top2[0]]! - t.top2[1]));
          const mine = argmax(l);
          if (mine !== greedy[t.position]) {
            const tie = ref['near_ties_top2_gap_below_0.25'].find((n) => n.prompt === pi && n.position === t.position);
            divergences.push(`prompt ${pi} position ${t.position}: ${mine} instead of ${greedy[t.position]} (recorded gap ${t.gap})`);
            // Only allowed where the engine itself saw a near-tie, and then only as a swap of its top two.
            expect(tie, `greedy diverged at prompt ${pi} position ${t.position} without a recorded near-tie`).toBeDefined();
            expect(mine).toBe(tie!.top2);
          }
        }
        if (pi === 0) {
          for (let v = 0; v < V; v++) maxFull = Math.max(maxFull, Math.abs(logitsAt[0]![v]! - ref.logits_prompt0_position0[v]!));
          // Slot 1: the same prompt fed one token per step, against the engine's one-token-per-decode vector.
          let oneByOne = 0;
          for (let i = 0; i < P; i++) {
            out = model.forward({ tokens: prompt.subarray(i, i + 1), positions: Int32Array.of(i), slots: Int32Array.of(1), logitsFor: Int32Array.of(0) });
          }
          const single = row(out, 0);
          const want = ref.logits_prompt0_position0_when_prompt_fed_one_token_per_decode;
          for (let v = 0; v < V; v++) oneByOne = Math.max(oneByOne, Math.abs(single[v]! - want[v]!));
          summary.push(`  ${name}: prompt 0 position 0 fed one token per step: max |Δlogit| ${oneByOne.toExponential(2)}`);
          expect(oneByOne).toBeLessThan(TOLERANCE);
        }
      }
      summary.push(
        `  ${name}: max |Δlogit| ${maxDiff.toExponential(2)} over recorded top-10/top-2 logits, ${maxFull.toExponential(2)} over the full prompt-0 vector; ` +
          `greedy divergences: ${divergences.length ? divergences.join('; ') : 'none'}`,
      );
      expect(maxDiff).toBeLessThan(TOLERANCE);
      expect(maxFull).toBeLessThan(TOLERANCE);
      // Tighter, as measured: the reference repeats bitnet.cpp's I2_S arithmetic (2e-5), and llama.cpp's TQ
      // arithmetic up to one int8 activation code that flips at TQ prompt 1 position 4 and stays in the KV cache (0.074).
      expect(maxDiff).toBeLessThan(name.includes('i2_s') ? 1e-3 : 0.1);
      model.dispose();
    });
  }
});
