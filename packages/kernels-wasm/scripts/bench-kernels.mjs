// GEMV timing of the wasm kernels on the BitNet b1.58 2B4T shapes, in GB/s (scripts/bench-core.mjs). Needs
// `pnpm build` (reads dist/). Reports numbers only; nothing is asserted.
//   pnpm bench:kernels [-- --threads 1,2 --variants simd128,scalar --layouts lut16,w2x64 --ms 400]
//   pnpm bench:kernels -- --browser   (the same in headless Chromium, cross-origin isolated: relaxed SIMD, threads)
import { benchKernels, formatRows } from './bench-core.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const browser = args.includes('--browser');
const threads = opt('threads', '1,2').split(',').map(Number);
const variants = opt('variants', browser ? 'relaxed-simd,simd128' : 'simd128').split(',');
const layouts = opt('layouts', 'default').split(',');
const minMs = Number(opt('ms', '400'));
const configs = [];
for (const variant of variants)
  for (const layout of layouts)
    for (const t of threads) configs.push({ threads: t, variant, ...(layout === 'default' ? {} : { ternaryLayout: layout }) });

if (!browser) {
  const { createWasmBackend } = await import('../dist/index.js');
  console.log(formatRows(await benchKernels(createWasmBackend, configs, { minMs })));
} else {
  const { distMounts, importMapScript, serveStatic } = await import('../test/support/static-server.mjs');
  const { chromium } = await import('playwright-core');
  const { fileURLToPath } = await import('node:url');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const page = `<!doctype html><meta charset="utf-8">${importMapScript()}<script type="module">
    import { createWasmBackend } from '@trine/kernels-wasm';
    import { benchKernels } from '/scripts/bench-core.mjs';
    globalThis.bench = (configs, o) => benchKernels((c) => createWasmBackend({ ...c, baseUrl: new URL('/pkg/kernels-wasm/dist/', location.href) }), configs, o);
  </script>`;
  const server = await serveStatic({ ...distMounts(), '/scripts/': fileURLToPath(new URL('./', import.meta.url)) }, { '/': page });
  const dir = await mkdtemp(join(tmpdir(), 'trine-bench-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--no-first-run', '--disable-background-networking'] });
  try {
    const p = await ctx.newPage();
    await p.goto(`${server.url}/`);
    await p.waitForFunction(() => typeof globalThis.bench === 'function');
    const ua = await p.evaluate(() => navigator.userAgent);
    const rows = await p.evaluate(([c, o]) => globalThis.bench(c, o), [configs, { minMs }]);
    console.log(`${ua}\n${formatRows(rows)}`);
  } finally {
    await ctx.close();
    await rm(dir, { recursive: true, force: true });
    await server.close();
  }
}
