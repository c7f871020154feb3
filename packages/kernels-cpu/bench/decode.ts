/**
 * End-to-end decode timing of the CPU backend on a GGUF (not a test; apps/bench is the real report):
 *   pnpm --filter @trine/kernels-cpu bench:decode -- --model FILE [--threads 1] [--variant avx512] [--gemv NAME] [--lm q8] [--batches 8,32] [--ops]
 * Prints load time, peak RSS, prefill (128 tokens) and decode (batch 1, 8 and 32) tokens/s with each batch's
 * aggregate as a multiple of batch 1, and the share of decode time spent outside native calls; --ops adds the
 * native time by op. CPU-seconds are printed beside wall time because the machine is shared.
 */
import { BitNetModel, openModel, timedBackend } from '@trine/core';
import { createCpuBackend, describeGemvChoice, type CpuHandles } from '../src/index.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : d;
};
const model = opt('model', '');
if (!model) throw new Error('--model FILE is required');
const threads = Number(opt('threads', '1'));
const variant = opt('variant', '');
const gemv = opt('gemv', '');
const lm = opt('lm', '') as '' | 'q8' | 'f16';
const decodeTokens = Number(opt('tokens', '32'));
const batches = opt('batches', '8,32').split(',').map(Number);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const wall = () => performance.now() / 1e3;

const inner = createCpuBackend({ threads, ...(variant ? { variant } : {}), ...(gemv ? { gemv } : {}) });
const perOp = new Map<string, number>();
const breakdown = (label: string, steps: number) => {
  const total = [...perOp.values()].reduce((a, b) => a + b, 0);
  const parts = [...perOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 7).map(([k, v]) => `${k} ${(v / steps).toFixed(1)} ms (${((v / total) * 100).toFixed(0)}%)`);
  if (args.includes('--ops')) console.log(`  ${label} native time per step by op: ${parts.join(', ')}`);
  perOp.clear();
};
// Time every kernel call: what is left of a step is JS (graph, validation, bookkeeping).
const timed = timedBackend<CpuHandles>(inner, perOp);

const t0 = wall();
const source = await openModel(model);
const m = await BitNetModel.load<CpuHandles>(source, timed, { slots: Math.max(8, ...batches), context: 512, validate: false, ...(lm ? { lmHeadFormat: lm } : {}) });
await source.close();
const loadS = wall() - t0;
const V = m.config.vocab;
console.log(`backend ${inner.info.variant} threads ${inner.info.threads}; loaded in ${loadS.toFixed(1)} s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

const argOut = inner.alloc('i32', [Math.max(8, ...batches)]);
function greedy(logits: CpuHandles['tensor'], rows: number): Int32Array {
  inner.argmax(argOut, logits, rows);
  return (argOut.data as Int32Array).slice(0, rows);
}

perOp.clear();
// Prefill: 128 tokens of slot 0.
const P = 128;
const prompt = Int32Array.from({ length: P }, (_, i) => (i * 7919) % V);
let w0 = wall(), c0 = cpu();
let logits = m.forward({ tokens: prompt, positions: Int32Array.from({ length: P }, (_, i) => i), slots: new Int32Array(P), logitsFor: Int32Array.of(P - 1) });
let next = greedy(logits, 1)[0]!;
let dw = wall() - w0, dc = cpu() - c0;
breakdown('prefill', 1);
console.log(`prefill ${P}: ${(P / dw).toFixed(1)} tok/s wall, ${(P / (dc / threads)).toFixed(1)} tok/s per CPU-second/thread`);

// One untimed batch-1 step: a shape's first batch-1 product times the candidate kernels (src/tune.ts).
w0 = wall();
logits = m.forward({ tokens: Int32Array.of(next), positions: Int32Array.of(P), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
next = greedy(logits, 1)[0]!;
perOp.clear();
console.log(`first decode step ${((wall() - w0) * 1e3).toFixed(0)} ms (batch-1 kernels timed there); chosen per shape:`);
for (const c of inner.gemvChoices())
  console.log(`  ${describeGemvChoice(c)}`);

// Decode batch 1.
w0 = wall(); c0 = cpu();
for (let i = 0; i < decodeTokens; i++) {
  logits = m.forward({ tokens: Int32Array.of(next), positions: Int32Array.of(P + 1 + i), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
  next = greedy(logits, 1)[0]!;
}
dw = wall() - w0; dc = cpu() - c0;
const nativeMs = [...perOp.values()].reduce((a, b) => a + b, 0);
const outside = 1 - nativeMs / 1e3 / dw;
breakdown('decode b1', decodeTokens);
console.log(`decode b1: ${(decodeTokens / dw).toFixed(2)} tok/s wall, ${(decodeTokens / (dc / threads)).toFixed(2)} per CPU-second/thread; outside native calls ${(outside * 100).toFixed(1)}%`);

// Batched decode: one token in each of B slots per step (B sequences decoding together).
const b1 = decodeTokens / dw;
for (const B of batches) {
  const toks = Int32Array.from({ length: B }, (_, i) => (i * 31) % V);
  const steps = Math.max(4, Math.floor((decodeTokens * 8) / B / 4));
  w0 = wall(); c0 = cpu();
  for (let s = 0; s < steps; s++) {
    logits = m.forward({ tokens: toks, positions: Int32Array.from({ length: B }, () => s), slots: Int32Array.from({ length: B }, (_, i) => i), logitsFor: Int32Array.from({ length: B }, (_, i) => i) });
    toks.set(greedy(logits, B));
  }
  dw = wall() - w0; dc = cpu() - c0;
  breakdown(`decode b${B}`, steps);
  console.log(`decode b${B}: ${((B * steps) / dw).toFixed(2)} tok/s wall aggregate (${((B * steps) / dw / b1).toFixed(2)}× batch 1), ${((B * steps) / (dc / threads)).toFixed(2)} per CPU-second/thread; ${((dw / steps) * 1e3).toFixed(0)} ms/step`);
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
// How much of the process sits on 2 MB pages (weights are put there where the OS allows, native/glue/memory.cc).
const smaps = process.platform === 'linux' ? (await import('node:fs')).readFileSync('/proc/self/smaps_rollup', 'utf8') : '';
const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(smaps)?.[1] ?? NaN);
if (smaps) console.log(`huge pages: ${(kb('AnonHugePages') / 1024).toFixed(0)} MB of ${(kb('Rss') / 1024).toFixed(0)} MB resident`);
m.dispose();
inner.destroy();
