// Bundles scripts/gpu-check.ts (with core, including its random-model builder, and the conformance kit, from their
// sources) into gpu-check/gpu-check.mjs and copies the `webgpu` package (Dawn for linux-x64) beside it, so the
// folder runs with a bare `node` on a machine without the workspace's node_modules.
// Carry `packages/kernels-webgpu/gpu-check` (about 22 MB) to the GPU machine. `--with-node` also packs this
// node binary as gpu-check/node.gz (about 30 MB more), which gpu-check.sh unpacks where no node is on PATH.
import { cpSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
const out = `${pkg}gpu-check/`;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}node_modules/webgpu/dist`, { recursive: true });

await build({
  entryPoints: [`${pkg}scripts/gpu-check.ts`],
  outfile: `${out}gpu-check.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  alias: {
    '@trine/core': `${root}packages/core/src/index.ts`,
    '@trine/conformance': `${root}packages/conformance/src/index.ts`,
  },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

const webgpu = realpathSync(createRequire(`${pkg}package.json`).resolve('webgpu/package.json').replace(/package\.json$/, ''));
for (const f of ['package.json', 'index.js', 'LICENSE.md']) cpSync(`${webgpu}/${f}`, `${out}node_modules/webgpu/${f}`);
cpSync(`${webgpu}/dist/linux-x64`, `${out}node_modules/webgpu/dist/linux-x64`, { recursive: true });
// The Vulkan loader, for a GPU host whose driver came without one (Dawn dlopens libvulkan.so.1).
for (const lib of ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/chromium/libvulkan.so.1']) {
  try {
    mkdirSync(`${out}lib`, { recursive: true });
    cpSync(realpathSync(lib), `${out}lib/libvulkan.so.1`);
    break;
  } catch {
    // try the next one
  }
}
if (process.argv.includes('--with-node')) {
  writeFileSync(`${out}node.gz`, gzipSync(readFileSync(process.execPath), { level: 9 }));
}
console.log(`wrote ${out}`);
