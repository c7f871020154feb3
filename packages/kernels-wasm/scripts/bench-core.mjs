// GEMV timing shared by Node (bench-kernels.mjs) and the Chromium page it opens with --browser: the ternary
// product on the BitNet b1.58 2B4T shapes (N × K) in GB/s of packed 2-bit weights, and the f16 LM head.

export const SHAPES = [
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

function time(fn, minMs) {
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

/** configs: [{ threads, variant, ternaryLayout }]; returns one row per (config, kernel). */
export async function benchKernels(createWasmBackend, configs, { minMs = 400, lmHead = true } = {}) {
  const rows = [];
  for (const cfg of configs) {
    const b = await createWasmBackend(cfg);
    const tag = { variant: b.info.variant, layout: String(b.info.details?.ternaryLayout ?? ''), threads: b.info.threads };
    for (const [name, N, K] of SHAPES) {
      const w = b.uploadTernary({ name, rows: N, cols: K, format: 'codes', data: randomCodes(N * K, N + K), granularity: 'tensor', scales: Float32Array.of(0.1) });
      const x = b.upload({ dtype: 'f32', shape: [1, K], data: new Float32Array(K).map((_, i) => Math.sin(i)) });
      const acts = { scheme: 'per_token', q: b.alloc('i8', [1, K]), scales: b.alloc('f32', [1, 1]) };
      const out = b.alloc('f32', [1, N]);
      const ms = time(() => {
        b.quantizeActs(acts, x, 1);
        b.ternaryMatmul(out, acts, w, 1);
      }, minMs);
      rows.push({ kernel: `ternary ${name}`, shape: `${N}x${K}`, ...tag, us: ms * 1000, gbs: (N * K) / 4 / (ms / 1000) / 1e9 });
      for (const h of [w, x, acts.q, acts.scales, out]) b.dispose(h);
    }
    if (lmHead && cfg.variant !== 'scalar') {
      const V = 128256;
      const D = 2560;
      const m = b.uploadMatrix({ dtype: 'f16', shape: [V, D], data: new Uint16Array(V * D).map((_, i) => 0x3000 + (i % 977)) }, 'f16');
      const x = b.upload({ dtype: 'f32', shape: [1, D], data: new Float32Array(D).fill(0.01) });
      const out = b.alloc('f32', [1, V]);
      const select = Int32Array.of(0);
      const ms = time(() => b.lmHead(out, x, m, select), minMs);
      rows.push({ kernel: 'lmHead f16', shape: `${V}x${D}`, ...tag, us: ms * 1000, gbs: (V * D * 2) / (ms / 1000) / 1e9 });
      for (const h of [m, x, out]) b.dispose(h);
    }
    b.destroy();
  }
  return rows;
}

export function formatRows(rows) {
  const lines = ['kernel                      shape         variant       layout  threads      µs/call   GB/s'];
  for (const r of rows) {
    lines.push(
      `${r.kernel.padEnd(27)} ${r.shape.padEnd(13)} ${r.variant.padEnd(13)} ${r.layout.padEnd(7)} ${String(r.threads).padStart(7)} ${r.us.toFixed(1).padStart(12)} ${r.gbs.toFixed(2).padStart(6)}`,
    );
  }
  return lines.join('\n');
}
