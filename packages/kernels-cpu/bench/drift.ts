/**
 * Logit drift of the opt-in q8 output matrix against the file's f16 one (not a test):
 *   pnpm --filter @trine/kernels-cpu exec tsx bench/drift.ts --model FILE [--tokens 32]
 * Runs the same teacher-forced token sequence through both (greedy from the f16 model) and prints the NMSE of the
 * q8 logits against the f16 logits (mean and worst position) and how often their top-1 tokens agree.
 */
import { BitNetModel, openModel } from '@trine/core';
import { createCpuBackend, type CpuHandles } from '../src/index.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const file = opt('model', '');
if (!file) throw new Error('--model FILE is required');
const steps = Number(opt('tokens', '32'));

const be = createCpuBackend({ threads: Number(opt('threads', '2')) });
async function load(lm: 'f16' | 'q8') {
  const source = await openModel(file);
  const m = await BitNetModel.load<CpuHandles>(source, be, { slots: 1, context: 256, maxBatchTokens: 16, lmHeadFormat: lm });
  await source.close();
  return m;
}
const f16 = await load('f16');
const q8 = await load('q8');
const V = f16.config.vocab;
const argmax = (a: Float32Array) => {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
  return b;
};
let tok = 1;
let agree = 0, sumNmse = 0, worst = 0;
for (let p = 0; p < steps; p++) {
  const step = { tokens: Int32Array.of(tok), positions: Int32Array.of(p), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) };
  const a = (await be.read(f16.forward(step), 1)).data as Float32Array;
  const b = (await be.read(q8.forward(step), 1)).data as Float32Array;
  let num = 0, den = 0;
  for (let i = 0; i < V; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += a[i]! ** 2;
  }
  const nmse = num / den;
  sumNmse += nmse;
  worst = Math.max(worst, nmse);
  const ta = argmax(a);
  if (ta === argmax(b)) agree++;
  tok = ta;
}
console.log(`q8 vs f16 output matrix over ${steps} positions: NMSE mean ${(sumNmse / steps).toExponential(2)}, worst ${worst.toExponential(2)}; top-1 agreement ${agree}/${steps}`);
f16.dispose();
q8.dispose();
be.destroy();
