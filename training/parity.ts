/**
 * Checks that the exported GGUF means in Trine what the PyTorch model means: runs logits.py's tokens through
 * Trine's reference backend in one step (every position's logits) and compares with PyTorch's quantised forward.
 * Prints the largest logit difference, the share of positions whose argmax agrees, and both mean losses.
 *
 *   npx tsx training/parity.ts <model.gguf> [parity-prefix]
 */
import { readFile } from 'node:fs/promises';
import { BitNetModel, type RefHandles, type RefTensor, createReferenceBackend, openModel, tokenNll } from '../packages/core/src/index.js';

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function main(): Promise<void> {
  const [modelPath, prefix = 'training/run/parity'] = process.argv.slice(2);
  if (!modelPath) throw new Error('usage: parity.ts <model.gguf> [parity-prefix]');
  const meta = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as { step: number; tokens: number[]; vocab: number };
  const raw = await readFile(`${prefix}.f32`);
  const torchLogits = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const source = await openModel(modelPath);
  const model = await BitNetModel.load<RefHandles>(source, createReferenceBackend(), { slots: 1 });
  await source.close();
  const n = meta.tokens.length;
  const V = model.config.vocab;
  const out = model.forward({
    tokens: Int32Array.from(meta.tokens),
    positions: Int32Array.from(meta.tokens, (_, i) => i),
    slots: new Int32Array(n),
    logitsFor: Int32Array.from(meta.tokens, (_, i) => i),
  }) as RefTensor;
  const trine = out.data as Float32Array;
  let maxDiff = 0;
  let maxAbs = 0;
  let agree = 0;
  let nllTrine = 0;
  let nllTorch = 0;
  for (let i = 0; i < n; i++) {
    const a = trine.subarray(i * V, (i + 1) * V);
    const b = torchLogits.subarray(i * V, (i + 1) * V);
    for (let v = 0; v < V; v++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[v]! - b[v]!));
      maxAbs = Math.max(maxAbs, Math.abs(b[v]!));
    }
    if (argmax(a) === argmax(b)) agree++;
    if (i + 1 < n) {
      nllTrine += tokenNll(a, meta.tokens[i + 1]!);
      nllTorch += tokenNll(b, meta.tokens[i + 1]!);
    }
  }
  model.dispose();
  console.log(
    JSON.stringify({
      model: modelPath,
      step: meta.step,
      positions: n,
      maxLogitDiff: +maxDiff.toFixed(5),
      maxAbsLogit: +maxAbs.toFixed(3),
      argmaxAgree: `${agree}/${n}`,
      lossTrine: +(nllTrine / (n - 1)).toFixed(5),
      lossTorch: +(nllTorch / (n - 1)).toFixed(5),
    }),
  );
}

await main();
