import { defineConfig } from 'tsup';
// The kernels packages are optional dependencies, imported at run time by name: never bundled (tsup externalizes only
// dependencies and peerDependencies by itself).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  shims: true,
  sourcemap: true,
  clean: true,
  external: ['@trine/kernels-cpu', '@trine/kernels-wasm', '@trine/kernels-webgpu'],
});
