// Decode speed of the wasm backend against the native CPU backend on the same model: a random model with the
// BitNet b1.58 2B4T layer shapes (hidden 2560, 20/5 heads, ffn 6912, I2_S) but fewer layers and a byte vocabulary,
// written by Trine's own GGUF writer. Reports ms per decoded token; nothing is asserted.
// Usage (after pnpm build of core, kernels-cpu, kernels-wasm): npx tsx scripts/bench-decode.mts [layers] [tokens]
import { BitNetModel, openModel, type KernelBackend } from '../../core/src/index.js';
import { randomModelBytes } from '../../core/src/model/test-support/random-model.js';
import { createWasmBackend } from '../src/index.js';

const layers = Number(process.argv[2] ?? 4);
const tokens = Number(process.argv[3] ?? 24);
const bytes = randomModelBytes({ arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 2560, layers, heads: 20, kvHeads: 5, ffn: 6912, context: 256, seed: 7 });
console.log(`model: 2B4T layer shapes, ${layers} layers, ${(bytes.length / 2 ** 20).toFixed(0)} MiB GGUF; ${tokens} decode tokens`);

async function decodeMs(name: string, backend: KernelBackend): Promise<number> {
  const source = await openModel(bytes);
  const model = await BitNetModel.load(source, backend, { slots: 1, context: 256, maxBatchTokens: 1, validate: false });
  await source.close();
  let tok = 1;
  let t0 = 0;
  for (let pos = 0; pos <= tokens; pos++) {
    if (pos === 1) t0 = performance.now(); // the first step warms up
    const logits = model.forward({ tokens: Int32Array.of(tok), positions: Int32Array.of(pos), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
    const l = (await backend.read(logits, 1)).data as Float32Array;
    tok = l.indexOf(Math.max(...l));
  }
  const ms = (performance.now() - t0) / tokens;
  console.log(`${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms/token ${(1000 / ms).toFixed(2).padStart(8)} tok/s  (${backend.info.variant}, ${backend.info.threads} thread(s))`);
  model.dispose();
  backend.destroy();
  return ms;
}

const results: Record<string, number> = {};
try {
  const { createCpuBackend } = await import('../../kernels-cpu/dist/index.js');
  results.cpu1 = await decodeMs('cpu (native), 1 thread', createCpuBackend({ threads: 1 }) as unknown as KernelBackend);
} catch (e) {
  console.log(`cpu backend unavailable: ${(e as Error).message}`);
}
results.wasm1 = await decodeMs('wasm, 1 thread', await createWasmBackend({ threads: 1 }));
results.wasm2 = await decodeMs('wasm, 2 threads', await createWasmBackend({ threads: 2 }));
if (results.cpu1) console.log(`wasm 1 thread / cpu 1 thread: ${((results.cpu1 / results.wasm1!) * 100).toFixed(0)}% of native speed`);
console.log(`wasm 2 threads / wasm 1 thread: ${(results.wasm1! / results.wasm2!).toFixed(2)}x`);
