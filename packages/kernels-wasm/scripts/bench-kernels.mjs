// GEMV timing of the wasm ternary kernel on the BitNet b1.58 2B4T shapes (N × K), in GB/s of packed 2-bit
// weights read, plus the f16 LM head (128256 × 2560). Usage: pnpm bench:kernels [-- --threads 1,2 --variants simd128,scalar]
// Needs `pnpm build` (reads dist/). Reports numbers only; nothing is asserted.
import { createWasmBackend } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const threadsList = opt('threads', '1,2').split(',').map(Number);
const variants = opt('variants', 'simd128').split(',');
const minMs = Number(opt('ms', '400'));
const SHAPES = [
  ['attn_q/attn_output', 2560, 2560],
  ['attn_k/attn_v', 640, 2560],
  ['ffn_gate/ffn_up', 6912, 2560],
  ['ffn_down', 2560, 6912],
];

function randomCodes(n, seed) {
  const c = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    c[i] = ((s >>> 24) % 3) - 1; // int8 −1 stored as 0xff
  }
  return c;
}

function time(fn) {
  fn();
  let runs = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    fn();
    runs++;
    t = performance.now();
  }
  return (t - t0) / runs;
}

const rows = [];
for (const variant of variants) {
  for (const threads of threadsList) {
    const b = await createWasmBackend({ threads, variant });
    for (const [name, N, K] of SHAPES) {
      const w = b.uploadTernary({ name, rows: N, cols: K, format: 'codes', data: randomCodes(N * K, N + K), granularity: 'tensor', scales: Float32Array.of(0.1) });
      const x = b.upload({ dtype: 'f32', shape: [1, K], data: new Float32Array(K).map((_, i) => Math.sin(i)) });
      const acts = { scheme: 'per_token', q: b.alloc('i8', [1, K]), scales: b.alloc('f32', [1, 1]) };
      const out = b.alloc('f32', [1, N]);
      const ms = time(() => {
        b.quantizeActs(acts, x, 1);
        b.ternaryMatmul(out, acts, w, 1);
      });
      rows.push({ kernel: `ternary ${name}`, shape: `${N}x${K}`, variant: b.info.variant, threads: b.info.threads, us: ms * 1000, gbs: (N * K) / 4 / (ms / 1000) / 1e9 });
      for (const h of [w, x, acts.q, acts.scales, out]) b.dispose(h);
    }
    if (variant !== 'scalar') {
      const V = 128256, D = 2560;
      const m = b.uploadMatrix({ dtype: 'f16', shape: [V, D], data: new Uint16Array(V * D).map((_, i) => 0x3000 + (i % 977)) }, 'f16');
      const x = b.upload({ dtype: 'f32', shape: [1, D], data: new Float32Array(D).fill(0.01) });
      const out = b.alloc('f32', [1, V]);
      const select = Int32Array.of(0);
      const ms = time(() => b.lmHead(out, x, m, select));
      rows.push({ kernel: 'lmHead f16', shape: `${V}x${D}`, variant: b.info.variant, threads: b.info.threads, us: ms * 1000, gbs: (V * D * 2) / (ms / 1000) / 1e9 });
      for (const h of [m, x, out]) b.dispose(h);
    }
    b.destroy();
  }
}
console.log('kernel                      shape         variant       threads      µs/call   GB/s');
for (const r of rows) {
  console.log(`${r.kernel.padEnd(27)} ${r.shape.padEnd(13)} ${r.variant.padEnd(13)} ${String(r.threads).padStart(7)} ${r.us.toFixed(1).padStart(12)} ${r.gbs.toFixed(2).padStart(6)}`);
}
