// Decode speed of the wasm backend against the native cpu backend on one model, same process, turns interleaved
// (a busy shared host slows both alike), with the time of every kernel call summed per op (a Proxy around each
// backend) so a step's time can be split. CPU-seconds are printed beside wall time. Numbers only; nothing asserted.
// The model is a GGUF file (--model), or else a random one with the BitNet b1.58 2B4T layer shapes (hidden 2560,
// 20/5 heads, ffn 6912, I2_S), --layers deep with a byte vocabulary, written by Trine's own GGUF writer.
// Usage (after pnpm build of kernels-cpu and kernels-wasm):
//   npx tsx scripts/bench-decode.mts [--model FILE | --layers 4] [--tokens 8] [--rounds 3] [--threads 1,2] [--no-cpu] [--ops]
import { BitNetModel, openModel, timedBackend, type KernelBackend } from '../../core/src/index.js';
import { randomModelBytes } from '../../core/src/model/test-support/random-model.js';
import { createWasmBackend } from '../src/index.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const file = opt('model', '');
const modelSource: string | Uint8Array =
  file || randomModelBytes({ arch: 'bitnet-b1.58', ternary: 'I2_S', hidden: 2560, layers: Number(opt('layers', '4')), heads: 20, kvHeads: 5, ffn: 6912, context: 512, seed: 7 });
console.log(`model: ${file || `random, 2B4T layer shapes, ${opt('layers', '4')} layers, ${((modelSource as Uint8Array).length / 2 ** 20).toFixed(0)} MiB GGUF`}`);
const tokens = Number(opt('tokens', '8'));
const rounds = Number(opt('rounds', '3'));
const threadList = opt('threads', '1,2').split(',').map(Number);

interface Runner {
  name: string;
  backend: KernelBackend;
  model: BitNetModel<never>;
  pos: number;
  tok: number;
  best: number;
  bestCpu: number;
  perOp: Map<string, number>;
  /** per-op times of the best round */
  bestOps: Map<string, number>;
}

async function runner(name: string, inner: KernelBackend): Promise<Runner> {
  const perOp = new Map<string, number>();
  const t0 = performance.now();
  const source = await openModel(modelSource);
  const model = await BitNetModel.load(source, timedBackend(inner, perOp), { slots: 1, context: 512, maxBatchTokens: 1, validate: false });
  await source.close();
  console.log(`${name}: loaded in ${((performance.now() - t0) / 1e3).toFixed(1)} s (${inner.info.variant})`);
  return { name, backend: inner, model: model as unknown as BitNetModel<never>, pos: 0, tok: 1, best: Infinity, bestCpu: Infinity, perOp, bestOps: new Map() };
}

async function step(r: Runner): Promise<void> {
  const logits = r.model.forward({ tokens: Int32Array.of(r.tok), positions: Int32Array.of(r.pos++), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
  const l = (await r.backend.read(logits, 1)).data as Float32Array;
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
  r.tok = best;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const runners: Runner[] = [];
if (!args.includes('--no-cpu')) {
  try {
    const { createCpuBackend } = await import('../../kernels-cpu/src/index.js');
    runners.push(await runner('cpu (native), 1 thread', createCpuBackend({ threads: 1 }) as unknown as KernelBackend));
  } catch (e) {
    console.log(`cpu backend unavailable: ${(e as Error).message}`);
  }
}
for (const t of threadList) runners.push(await runner(`wasm, ${t} thread${t > 1 ? 's' : ''}`, await createWasmBackend({ threads: t })));
for (const r of runners) await step(r); // warm-up
for (const r of runners) r.perOp.clear();
for (let round = 0; round < rounds; round++) {
  for (const r of runners) {
    r.perOp.clear();
    const t0 = performance.now();
    const c0 = cpuSeconds();
    for (let i = 0; i < tokens; i++) await step(r);
    const ms = (performance.now() - t0) / tokens;
    if (ms < r.best) {
      r.best = ms;
      r.bestCpu = ((cpuSeconds() - c0) * 1e3) / tokens;
      r.bestOps = new Map(r.perOp);
    }
  }
}
const load = (await import('node:os')).loadavg();
console.log(`load average ${load.map((x) => x.toFixed(2)).join(' ')}`);
for (const r of runners) {
  console.log(`${r.name.padEnd(24)} ${r.best.toFixed(1).padStart(7)} ms/token ${(1000 / r.best).toFixed(2).padStart(6)} tok/s  (process CPU ${r.bestCpu.toFixed(1)} ms/token)`);
  if (args.includes('--ops')) {
    const steps = tokens;
    const total = [...r.bestOps.values()].reduce((a, b) => a + b, 0);
    const parts = [...r.bestOps.entries()].sort((a, b) => b[1] - a[1]).filter(([, v]) => v / steps >= 0.05);
    console.log(`  per token (best round): ${parts.map(([k, v]) => `${k} ${(v / steps).toFixed(1)}`).join(', ')} ms (in kernels ${(total / steps).toFixed(1)} ms)`);
  }
}
const get = (n: string) => runners.find((r) => r.name === n)?.best;
const cpu = get('cpu (native), 1 thread');
const w1 = get('wasm, 1 thread');
const w2 = get('wasm, 2 threads');
if (cpu && w1) console.log(`wasm 1 thread / cpu 1 thread: ${((cpu / w1) * 100).toFixed(0)}% of native speed`);
if (w1 && w2) console.log(`wasm 2 threads / wasm 1 thread: ${(w1 / w2).toFixed(2)}x`);
for (const r of runners) {
  r.model.dispose();
  r.backend.destroy();
}
