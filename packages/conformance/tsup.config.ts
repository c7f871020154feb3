import { defineConfig } from 'tsup';
// Three entries: the browser-safe core (cases + runner), the vitest helper, and the Node-only CLI.
export default defineConfig({
  entry: ['src/index.ts', 'src/vitest.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  shims: true,
  sourcemap: true,
  clean: true,
  external: ['vitest', '@trine/core', '@trine/kernels-cpu', '@trine/kernels-wasm', '@trine/kernels-webgpu'],
});
