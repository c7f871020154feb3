/**
 * One-shot check of the WebGPU backend on a real GPU (bundled by build-gpu-check.mjs; run through gpu-check.sh):
 * 1. the adapter (info, features, limits), 2. the conformance kit against the reference (exit 1 on any failure),
 * 3. decode tokens/s at batch 1 and aggregate tokens/s at batch 32 on a 2B4T-shaped I2_S model with random
 * weights, written by core's random-model builder (streamed weights, as the bench's) into a temporary directory.
 * Prints one final JSON line. `--tiny`: a toy shape and the small conformance cases (SwiftShader-friendly).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BitNetModel, MODEL_SHAPES, defaultTokenizerWithVocab, openModel, streamedWeights, writeRandomBitnetGgufFile, type Handles, type ModelShape,
} from '@trine/core';
import { formatReport, runConformance } from '@trine/conformance';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';

const tiny = process.argv.includes('--tiny');
const skipConformance = process.argv.includes('--no-conformance');
/** `--name value` flags: --shape (a bench shape, or tiny30), --steps (timed batch-1 steps), --batch-steps (timed batch-32 steps, 0 skips), --profile-steps (host-profiled steps). `--profile-only` stops after the host profile. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const t00 = performance.now();
const log = (s: string) => process.stdout.write(`[gpu-check ${((performance.now() - t00) / 1000).toFixed(1)}s] ${s}\n`);

async function backendInfo(): Promise<Record<string, unknown>> {
  const be = await createWebGpuBackend();
  const info = { ...be.info };
  be.destroy();
  return info as unknown as Record<string, unknown>;
}

async function conformance(): Promise<{ pass: number; fail: number; unsupported: number; failed: string[] }> {
  const be = await createWebGpuBackend();
  try {
    const report = await runConformance(be, {
      mode: 'test',
      large: !tiny,
      onResult: (r) => log(`${r.status.padEnd(11)} ${r.name} ${r.metric ?? r.reason ?? ''} (${r.ms.toFixed(0)} ms)`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    return { ...report.counts, failed: report.results.filter((r) => r.status === 'fail').map((r) => r.name) };
  } finally {
    be.destroy();
  }
}

/** Greedy decode steps with one token per slot; returns tokens/s over `steps` timed steps (after warm-up). */
async function decodeRate(model: BitNetModel<Handles>, be: WebGpuBackend, vocab: number, batch: number, steps: number, warmup: number): Promise<number> {
  const idx = be.alloc('i32', [batch]);
  const slots = Int32Array.from({ length: batch }, (_, i) => i);
  let tokens = Int32Array.from({ length: batch }, (_, i) => (i * 7919 + 11) % (vocab - 3));
  let t0 = 0;
  for (let s = 0; s < warmup + steps; s++) {
    if (s === warmup) t0 = performance.now();
    const out = model.forward({ tokens, positions: new Int32Array(batch).fill(s), slots, logitsFor: slots });
    be.argmax(idx, out, batch);
    tokens = Int32Array.from((await be.read(idx, batch)).data as Int32Array);
  }
  const seconds = (performance.now() - t0) / 1000;
  be.dispose(idx);
  return (steps * batch) / seconds;
}

/**
 * Host time per decode step at batch 1, split by the WebGPU call it went to: every method of the encoder, pass and
 * queue objects the backend uses is wrapped with a timer (prototype patch), and the step's recording (the model's
 * forward + argmax), the submit and the wait for the readback are timed around. Independent of GPU speed except
 * `wait`, so it is meaningful on SwiftShader.
 */
async function hostProfile(model: BitNetModel<Handles>, be: WebGpuBackend, vocab: number, steps: number): Promise<Record<string, number>> {
  const device = (be as unknown as { device: GPUDevice }).device;
  const totals = new Map<string, { ms: number; n: number }>();
  const patched: Array<() => void> = [];
  const wrap = (proto: Record<string, unknown>, cls: string, name: string) => {
    const orig = proto[name] as ((...a: unknown[]) => unknown) | undefined;
    if (typeof orig !== 'function') return;
    const key = `${cls}.${name}`;
    const t = { ms: 0, n: 0 };
    totals.set(key, t);
    proto[name] = function (this: unknown, ...a: unknown[]) {
      const s = performance.now();
      try {
        return orig.apply(this, a);
      } finally {
        t.ms += performance.now() - s;
        t.n++;
      }
    };
    patched.push(() => (proto[name] = orig));
  };
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.end();
  enc.finish();
  const protos: Array<[object, string, string[]]> = [
    [Object.getPrototypeOf(device), 'device', ['createCommandEncoder', 'createBindGroup', 'createBuffer']],
    [Object.getPrototypeOf(device.queue), 'queue', ['writeBuffer', 'submit']],
    [Object.getPrototypeOf(enc), 'encoder', ['beginComputePass', 'finish', 'copyBufferToBuffer']],
    [Object.getPrototypeOf(pass), 'pass', ['setPipeline', 'setBindGroup', 'dispatchWorkgroups', 'end']],
  ];
  for (const [proto, cls, names] of protos) for (const n of names) wrap(proto as Record<string, unknown>, cls, n);
  // The backend's own methods (their time includes the WebGPU calls above that they make).
  const ops = ['embedding', 'rmsNorm', 'add', 'gatedActivation', 'quantizeActs', 'ternaryMatmul', 'ternaryMatmulAcc', 'rope', 'kvStore', 'attention', 'lmHead', 'argmax', 'prepareBatch', 'alloc', 'dispose'];
  for (const n of ops) wrap(Object.getPrototypeOf(be) as Record<string, unknown>, 'backend', n);
  const idx = be.alloc('i32', [1]);
  let tokens = Int32Array.of(11);
  const warm = 2;
  let record = 0;
  let readMs = 0;
  for (let s = 0; s < warm + steps; s++) {
    if (s === warm) {
      for (const t of totals.values()) (t.ms = 0), (t.n = 0);
      record = readMs = 0;
    }
    const t0 = performance.now();
    const out = model.forward({ tokens, positions: Int32Array.of(s), slots: Int32Array.of(0), logitsFor: Int32Array.of(0) });
    be.argmax(idx, out, 1);
    const t1 = performance.now();
    tokens = Int32Array.from((await be.read(idx, 1)).data as Int32Array);
    record += t1 - t0;
    readMs += performance.now() - t1;
    // Collect garbage outside the timed parts (node --expose-gc, as gpu-check.sh runs it): a long readback wait on
    // an emulator leaves megabytes of polling garbage whose collection would land in the next step's recording.
    (globalThis as { gc?: () => void }).gc?.();
  }
  for (const undo of patched) undo();
  be.dispose(idx);
  const per = (ms: number) => +((ms / steps) * 1000).toFixed(1);
  const dispatches = (totals.get('pass.dispatchWorkgroups')?.n ?? 0) / steps;
  const out: Record<string, number> = { dispatches_per_step: dispatches, record_us_per_step: per(record), read_us_per_step: per(readMs) };
  for (const [k, t] of totals) if (t.n > 0) (out[`${k}_us`] = per(t.ms)), (out[`${k}_calls`] = t.n / steps);
  out.record_us_per_dispatch = +(out.record_us_per_step! / Math.max(1, dispatches)).toFixed(2);
  const calls = [...totals].filter(([, t]) => t.n > 0).map(([k, t]) => `${k} ${per(t.ms)} µs (${t.n / steps}×)`);
  log(`host profile, batch 1 (µs per step): record ${out.record_us_per_step} (${dispatches} dispatches, ${out.record_us_per_dispatch} µs each), submit+read ${out.read_us_per_step}; ${calls.join(', ')}`);
  return out;
}

function prefixed(p: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [p + k, v]));
}

async function bench(): Promise<Record<string, number | string>> {
  const name = flag('shape') ?? (tiny ? 'tiny' : '2b4t');
  // tiny30: the tiny shape with 2B4T's 30 layers (2B4T's dispatch count at toy sizes: host profiling on SwiftShader).
  const shape: ModelShape | undefined = name === 'tiny30' ? { ...MODEL_SHAPES.tiny!, name: 'tiny30', layers: 30 } : MODEL_SHAPES[name];
  if (!shape) throw new Error(`unknown --shape (known: ${Object.keys(MODEL_SHAPES).join(', ')})`);
  const dir = mkdtempSync(join(tmpdir(), 'trine-gpu-check-'));
  try {
    const t0 = performance.now();
    const path = join(dir, `${shape.name}.gguf`);
    log(`generating ${shape.name} (i2_s) → ${path}`);
    await writeRandomBitnetGgufFile(path, {
      arch: 'bitnet-b1.58', hidden: shape.hidden, layers: shape.layers, heads: shape.heads, kvHeads: shape.kvHeads, ffn: shape.ffn,
      context: shape.context, ternary: 'I2_S', tokenizer: defaultTokenizerWithVocab(shape.vocab), name: `gpu-check-${shape.name} (random weights)`,
    }, await streamedWeights(`gpu-check/${shape.name}`));
    const genS = (performance.now() - t0) / 1000;
    log(`model ${shape.name} written in ${genS.toFixed(1)} s`);
    const be = await createWebGpuBackend();
    const t1 = performance.now();
    const source = await openModel(path);
    const steps = Number(flag('steps') ?? (tiny ? 8 : 64));
    const batchSteps = Number(flag('batch-steps') ?? (tiny ? 4 : 32));
    const profileSteps = Number(flag('profile-steps') ?? Math.min(steps, 16));
    const model = await BitNetModel.load(source, be, { slots: 32, context: Math.max(steps, profileSteps + 2) + 16, kvDtype: 'f16' });
    await source.close();
    await be.sync();
    const loadS = (performance.now() - t1) / 1000;
    log(`loaded in ${loadS.toFixed(1)} s (${be.info.variant})`);
    const host = await hostProfile(model as BitNetModel<Handles>, be, shape.vocab, profileSteps);
    if (process.argv.includes('--profile-only')) {
      model.dispose();
      be.destroy();
      return { shape: shape.name, ...prefixed('host_', host) };
    }
    // Batch 1 with one submission per step (0) and with a submission every n dispatches (the GPU starts on the step
    // while the host still records it); the fastest is the reported decode rate.
    const ctx = (be as unknown as { ctx: { submitEvery: number } }).ctx;
    const sweep: Record<string, number> = {};
    let b1 = 0;
    let best = 0;
    for (const every of [0, 8, 16, 32, 64, 128]) {
      ctx.submitEvery = every;
      const r = await decodeRate(model as BitNetModel<Handles>, be, shape.vocab, 1, steps, Math.min(4, steps));
      sweep[`decode_b1_submit${every}_tok_s`] = +r.toFixed(1);
      log(`decode batch 1, ${every ? `submit every ${every} dispatches` : 'one submission per step'}: ${r.toFixed(1)} tok/s`);
      if (r > b1) (b1 = r), (best = every);
    }
    // The same without the backend's op fusion (rmsNorm + quantizeActs, rope q + k), for comparison.
    ctx.submitEvery = best;
    const fusion = (be as unknown as { fusion: { enabled: boolean } }).fusion;
    fusion.enabled = false;
    const unfused = await decodeRate(model as BitNetModel<Handles>, be, shape.vocab, 1, steps, Math.min(4, steps));
    fusion.enabled = true;
    sweep.decode_b1_unfused_tok_s = +unfused.toFixed(1);
    ctx.submitEvery = 0;
    log(`decode batch 1: ${b1.toFixed(1)} tok/s (best: submitEvery ${best}; without fusion ${unfused.toFixed(1)} tok/s)`);
    const b32 = batchSteps > 0 ? await decodeRate(model as BitNetModel<Handles>, be, shape.vocab, 32, batchSteps, 2) : NaN;
    log(`decode batch 32: ${b32.toFixed(1)} tok/s aggregate`);
    model.dispose();
    be.destroy();
    return { ...prefixed('host_', host), shape: shape.name, generate_s: +genS.toFixed(1), load_s: +loadS.toFixed(1), decode_b1_tok_s: +b1.toFixed(1), decode_b1_best_submit_every: best, ...sweep, batch32_aggregate_tok_s: +b32.toFixed(1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-kernel timings (the kit's perf mode, real 2B4T shapes) for tuning: ms per run, readback included. */
async function kernelPerf(): Promise<Record<string, number>> {
  const be = await createWebGpuBackend();
  try {
    const filter = tiny
      ? 'ternaryMatmul/per_token/i2_s/n3.K640.N37,lmHead/f16/V1000.D256'
      : 'ternaryMatmul/per_token/i2_s/n1.K2560.N6912,ternaryMatmul/per_block256/tq2_0/n1.K6912.N2560,lmHead/f16/V3000.D2560,attention/f32/gqa4/long';
    const report = await runConformance(be, { mode: 'perf', filter, perfMinMs: 300, perfMaxRuns: 200 });
    const out: Record<string, number> = {};
    for (const r of report.results) {
      out[r.name] = +r.ms.toFixed(3);
      log(`perf ${r.name}: ${r.metric ?? r.reason}`);
    }
    return out;
  } finally {
    be.destroy();
  }
}

async function main(): Promise<number> {
  const adapter = await backendInfo();
  log(`adapter ${JSON.stringify(adapter)}`);
  const conf = skipConformance ? null : await conformance();
  let perf: Record<string, number | string> = {};
  let benchError: string | undefined;
  try {
    perf = await bench();
  } catch (e) {
    benchError = String(e instanceof Error ? e.stack : e);
    log(`bench failed: ${benchError}`);
  }
  let kernels: Record<string, number> = {};
  try {
    kernels = await kernelPerf();
  } catch (e) {
    log(`kernel perf failed: ${String(e)}`);
  }
  const ok = (!conf || conf.fail === 0) && !benchError;
  const result = {
    ok,
    tiny,
    variant: adapter.variant,
    details: adapter.details,
    conformance: conf,
    ...perf,
    kernel_ms: kernels,
    ...(benchError ? { bench_error: benchError.split('\n')[0] } : {}),
    targets: { decode_b1_tok_s: 150, batch32_aggregate_tok_s: 1000 },
    seconds: +((performance.now() - t00) / 1000).toFixed(1),
  };
  process.stdout.write(`GPU_CHECK_JSON ${JSON.stringify(result)}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stdout.write(`GPU_CHECK_JSON ${JSON.stringify({ ok: false, error: String(e instanceof Error ? e.message : e) })}\n`);
    process.exit(2);
  },
);
