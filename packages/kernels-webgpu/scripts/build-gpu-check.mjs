// Bundles scripts/gpu-check.ts (with core, the conformance kit and the bench's model generator, from their
// sources) into gpu-check/gpu-check.mjs and copies the `webgpu` package (Dawn for linux-x64) beside it, so the
// folder runs with a bare `node` on a machine without the workspace's node_modules.
// Carry `packages/kernels-webgpu/gpu-check` (about 22 MB) to the GPU machine.
import { cpSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
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
console.log(`wrote ${out}`);
