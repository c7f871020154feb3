// Decode speed of the wasm backend against the native CPU backend on the same model: a random model with the
// BitNet b1.58 2B4T layer shapes (hidden 2560, 20/5 heads, ffn 6912, I2_S) but fewer layers and a byte vocabulary,
// written by Trine's own GGUF writer. The backends take turns (rounds of `tokens` decode steps) so a busy host
// slows them alike; the best round of each is reported. Reports numbers only; nothing is asserted.
// Usage (after pnpm build of core, kernels-cpu, kernels-wasm): npx tsx scripts/bench-decode.mts [layers] [tokens] [rounds]
import { BitNetModel, openModel, type KernelBackend } from '../../core/src/index.js';
import { randomModelBytes } from '../../core/src/model/test-support/random-model.js';
import { createWasmBackend } from '../src/index.js';

const layers = Number(process.argv[2] ?? 4);
const tokens = Number(process.argv[3] ?? 8);
const rounds = Number(process.argv[4] ?? 5);
const context = Math.min(4096, rounds * tokens + 8);
const bytes = randomModelBytes({ arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 2560, layers, heads: 20, kvHeads: 5, ffn: 6912, context, seed: 7 });
console.log(`model: 2B4T layer shapes, ${layers} layers, ${(bytes.length / 2 ** 20).toFixed(0)} MiB GGUF; ${rounds} rounds of ${tokens} decode tokens`);

interface Runner {
  name: string;
  backend: KernelBackend;
  model: BitNetModel<never>;
  pos: number;
  tok: number;
  best: number;
}

async function runner(name: string, backend: KernelBackend): Promise<Runner> {
  const source = await openModel(bytes);
  const model = await BitNetModel.load(source, backend, { slots: 1, context, maxBatchTokens: 1, validate: false });
  await source.close();
  return { name, backend, model: model as unknown as BitNetModel<never>, pos: 0, tok: 1, best: Infinity };
}

async function step(r: Runner): Promise<void> {
  const logits = r.model.forward({ tokens: Int32Array.of(r.tok), positions: Int32Array.of(r.pos++), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
  const l = (await r.backend.read(logits, 1)).data as Float32Array;
  r.tok = l.indexOf(Math.max(...l));
}

const runners: Runner[] = [];
try {
  const { createCpuBackend } = await import('../../kernels-cpu/dist/index.js');
  runners.push(await runner('cpu (native), 1 thread', createCpuBackend({ threads: 1 }) as unknown as KernelBackend));
} catch (e) {
  console.log(`cpu backend unavailable: ${(e as Error).message}`);
}
runners.push(await runner('wasm, 1 thread', await createWasmBackend({ threads: 1 })));
runners.push(await runner('wasm, 2 threads', await createWasmBackend({ threads: 2 })));
for (const r of runners) await step(r); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const r of runners) {
    const t0 = performance.now();
    for (let i = 0; i < tokens; i++) await step(r);
    r.best = Math.min(r.best, (performance.now() - t0) / tokens);
  }
}
for (const r of runners) {
  console.log(`${r.name.padEnd(26)} ${r.best.toFixed(1).padStart(8)} ms/token ${(1000 / r.best).toFixed(2).padStart(8)} tok/s  (${r.backend.info.variant}, ${r.backend.info.threads} thread(s))`);
  r.model.dispose();
  r.backend.destroy();
}
const get = (n: string) => runners.find((r) => r.name === n)?.best;
const cpu = get('cpu (native), 1 thread');
const w1 = get('wasm, 1 thread')!;
const w2 = get('wasm, 2 threads')!;
if (cpu) console.log(`wasm 1 thread / cpu 1 thread: ${((cpu / w1) * 100).toFixed(0)}% of native speed`);
console.log(`wasm 2 threads / wasm 1 thread: ${(w1 / w2).toFixed(2)}x`);
