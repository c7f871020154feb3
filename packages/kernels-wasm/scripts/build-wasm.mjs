// Builds the kernel module's variants from assembly/ with AssemblyScript (npm-only toolchain):
//   simd        SIMD128, private memory (single thread)
//   relaxed     + relaxed SIMD (used only where detected and validated at run time)
//   simd-mt     SIMD128, shared memory (threads: every worker instantiates it over the same memory)
//   relaxed-mt  + relaxed SIMD, shared memory
// Outputs go to dist/ beside the bundled JS, which fetches them with new URL('./x.wasm', import.meta.url).
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(dirname(createRequire(import.meta.url).resolve('assemblyscript/package.json')), 'bin', 'asc.js');
const out = join(root, 'dist');
mkdirSync(out, { recursive: true });

const common = ['assembly/index.ts', '-O3', '--runtime', 'stub', '--noAssert', '--use', 'abort=', '--importMemory'];
const only = process.env.TRINE_WASM_ONLY; // a quick rebuild of one variant while measuring
const variants = {
  simd: ['--enable', 'simd'],
  relaxed: ['--enable', 'simd,relaxed-simd'],
  'simd-mt': ['--enable', 'simd,threads', '--sharedMemory', '--maximumMemory', '65536'],
  'relaxed-mt': ['--enable', 'simd,relaxed-simd,threads', '--sharedMemory', '--maximumMemory', '65536'],
};
for (const [name, flags] of Object.entries(variants)) {
  if (only && name !== only) continue;
  const r = spawnSync(process.execPath, [asc, ...common, ...flags, '-o', join(out, `trine-kernels-${name}.wasm`)], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
console.log(`built ${only ?? Object.keys(variants).join(", ")} into dist/`);
