import { defineConfig } from 'tsup';
// One ESM entry; backend and conformance packages stay external: they are imported dynamically when installed.
export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  banner: { js: '#!/usr/bin/env node' },
  external: ['@trine/core', '@trine/conformance', '@trine/kernels-cpu', '@trine/kernels-wasm', '@trine/kernels-webgpu'],
});
