/**
 * Micro-benchmark of the hot kernels at BitNet b1.58 2B4T shapes (not a test; speed is reported by apps/bench).
 *   pnpm --filter @trine/kernels-cpu bench:kernels [-- --threads 1,2 --variant avx512 --sweeps 5]
 * Ternary GEMV runs over a whole model's worth of matrices (30 layers, 521 MB) so every call reads cold weights,
 * as in a decode step; GB/s counts the packed weight bytes. The LM head is the f16 [128256, 2560] matrix (657 MB).
 * The machine is shared: expect noise, run it more than once.
 */
import { createCpuBackend, describeGemvChoice, type CpuBackend, type CpuTensor, type CpuTernary } from '../src/index.js';

const args = process.argv.slice(2);
function opt(name: string, def: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}
const threadList = opt('threads', '1,2').split(',').map(Number);
const variant = opt('variant', '');
const sweeps = Number(opt('sweeps', '4'));
const layers = Number(opt('layers', '30'));
const skipLm = args.includes('--no-lm');

const D = 2560, F = 6912, KV = 640, V = 128256;
const shapes = [
  { name: 'attn_q/attn_o 2560x2560', n: D, k: D, perLayer: 2 },
  { name: 'attn_k/attn_v 640x2560', n: KV, k: D, perLayer: 2 },
  { name: 'ffn_gate/up 6912x2560', n: F, k: D, perLayer: 2 },
  { name: 'ffn_down 2560x6912', n: D, k: F, perLayer: 1 },
];

function randomI2s(rows: number, cols: number, seed: number): Uint8Array {
  const b = new Uint8Array((rows * cols) / 4);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    // codes 0..2 only (3 is legal but unused by real files)
    let byte = 0;
    for (let j = 0; j < 4; j++) byte = (byte << 2) | ((s >>> (j * 8)) & 0xff) % 3;
    b[i] = byte;
  }
  return b;
}

function acts(be: CpuBackend, rows: number, k: number) {
  const x = be.alloc('f32', [rows, k]);
  const xd = x.data as Float32Array;
  for (let i = 0; i < xd.length; i++) xd[i] = Math.sin(i * 0.37) * 2;
  const a = { scheme: 'per_token' as const, q: be.alloc('i8', [rows, k]), scales: be.alloc('f32', [rows, 1]) };
  be.quantizeActs(a, x, rows);
  return a;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
/** CPU seconds of this process (all threads): on a busy shared machine, bytes per CPU-second is the steadier figure. */
function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

const lines: string[] = [];
const bandwidth: string[] = [];
const chosen: string[] = [];
for (const threads of threadList) {
  const be = createCpuBackend({ threads, ...(variant ? { variant } : {}) });
  // The read-only ceiling (STREAM-like sweep, same threads and load width) that GB/s is compared with.
  const bw = be.readBandwidth(1024, 3);
  bandwidth.push(`${threads} thread(s): ${bw.toFixed(1)} GB/s`);
  const pct = (gbs: number) => `${((gbs / bw) * 100).toFixed(0)}%`;
  const mats = shapes.map((s, si) => {
    const list: CpuTernary[] = [];
    for (let l = 0; l < layers * s.perLayer; l++)
      list.push(be.uploadTernary({ name: s.name, rows: s.n, cols: s.k, format: 'i2_s', data: randomI2s(s.n, s.k, 7 + si * 1000 + l), granularity: 'tensor', scales: new Float32Array([1]) }));
    return list;
  });
  const a1 = { [D]: acts(be, 1, D), [F]: acts(be, 1, F) } as Record<number, ReturnType<typeof acts>>;
  const outs = shapes.map((s) => be.alloc('f32', [128, s.n]));
  const spent = shapes.map(() => 0);
  const spentCpu = shapes.map(() => 0);
  let calls = 0;
  // GEMV (decode): walk the model in layer order, every matrix once per sweep.
  for (let sweep = 0; sweep <= sweeps; sweep++) {
    for (let l = 0; l < layers; l++)
      for (let si = 0; si < shapes.length; si++)
        for (let j = 0; j < shapes[si]!.perLayer; j++) {
          const t0 = now(), c0 = cpu();
          be.ternaryMatmul(outs[si] as CpuTensor, a1[shapes[si]!.k]!, mats[si]![l * shapes[si]!.perLayer + j]!, 1);
          if (sweep > 0) {
            // sweep 0 warms up
            spent[si]! += now() - t0;
            spentCpu[si]! += cpu() - c0;
          }
          calls++;
        }
  }
  let totalBytes = 0, totalTime = 0, totalCpu = 0;
  shapes.forEach((s, si) => {
    const bytes = (s.n * s.k) / 4;
    const n = sweeps * layers * s.perLayer;
    totalBytes += bytes * n; totalTime += spent[si]!; totalCpu += spentCpu[si]!;
    const gbs = (bytes * n) / spent[si]! / 1e9;
    lines.push(row([be.info.variant, threads, `GEMV ${s.name}`, (spent[si]! / n * 1e6).toFixed(1), gbs.toFixed(1), pct(gbs), (bytes * n / (spentCpu[si]! / threads) / 1e9).toFixed(1)]));
  });
  lines.push(row([be.info.variant, threads, `GEMV all ternary (${(totalBytes / sweeps / 1e6).toFixed(0)} MB/token)`, (totalTime / sweeps * 1e3).toFixed(2) + ' ms', (totalBytes / totalTime / 1e9).toFixed(1), pct(totalBytes / totalTime / 1e9), (totalBytes / (totalCpu / threads) / 1e9).toFixed(1)]));

  // The batch-1 kernel each shape got (timed in the warm-up sweep, src/tune.ts).
  for (const c of be.gemvChoices())
    chosen.push(`${threads} thread(s) ${describeGemvChoice(c)}`);

  // Prefill-shaped GEMM: 128 tokens through one 6912x2560 and one 2560x6912 matrix.
  for (const [si, rows] of [[2, 128], [3, 128], [2, 8]] as const) {
    const s = shapes[si]!;
    const a = acts(be, rows, s.k);
    const reps = 3;
    be.ternaryMatmul(outs[si] as CpuTensor, a, mats[si]![0]!, rows);
    const t0 = now(), c0 = cpu();
    for (let r = 0; r < reps; r++) be.ternaryMatmul(outs[si] as CpuTensor, a, mats[si]![(r + 1) % mats[si]!.length]!, rows);
    const dt = (now() - t0) / reps, dc = (cpu() - c0) / reps / threads;
    lines.push(row([be.info.variant, threads, `GEMM ${rows} tok ${s.name}`, (dt * 1e6).toFixed(0), `${((2 * rows * s.n * s.k) / dt / 1e9).toFixed(0)} GOPS`, '', `${((2 * rows * s.n * s.k) / dc / 1e9).toFixed(0)} GOPS`]));
  }
  for (const list of mats) for (const m of list) be.dispose(m);

  if (!skipLm) {
    const h = new Uint16Array(V * D);
    for (let i = 0; i < h.length; i++) h[i] = 0x2000 + (i * 2654435761 % 0x1000);
    for (const format of ['f16', 'q8'] as const) {
      const m = be.uploadMatrix({ dtype: 'f16', shape: [V, D], data: h }, format);
      const x = be.alloc('f32', [8, D]);
      (x.data as Float32Array).fill(0.5);
      const out = be.alloc('f32', [8, V]);
      for (const nsel of [1, 8]) {
        const sel = Int32Array.from({ length: nsel }, (_, i) => i);
        be.lmHead(out, x, m, sel);
        const reps = 4;
        const t0 = now(), c0 = cpu();
        for (let r = 0; r < reps; r++) be.lmHead(out, x, m, sel);
        const dt = (now() - t0) / reps, dc = (cpu() - c0) / reps / threads;
        const bytes = V * D * (format === 'f16' ? 2 : 1);
        lines.push(row([be.info.variant, threads, `lmHead ${format} 128256x2560 x${nsel}`, (dt * 1e6).toFixed(0), (bytes / dt / 1e9).toFixed(1), pct(bytes / dt / 1e9), (bytes / dc / 1e9).toFixed(1)]));
      }
      be.dispose(m);
    }
  }
  be.destroy();
}
console.log(`read bandwidth (readBandwidth, 1 GiB): ${bandwidth.join('; ')}`);
if (chosen.length > 0) console.log(`batch-1 kernel per shape:\n  ${chosen.join('\n  ')}`);
console.log(row(['variant', 'threads', 'kernel', 'µs/call (wall)', 'GB/s (wall)', '% of read BW', 'per CPU-second']));
console.log(row(['---', '---', '---', '---', '---', '---', '---']));
for (const l of lines) console.log(l);
