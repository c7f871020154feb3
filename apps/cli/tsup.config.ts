import { defineConfig } from 'tsup';
// One ESM entry; the conformance kit stays external: it is imported dynamically when installed.
export default defineConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  banner: { js: '#!/usr/bin/env node' },
  external: ['@trine/core', '@trine/conformance', '@trine/backends'],
});
