import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

// @trine/proto is not published: its code and types are bundled in, and its .proto copied to trine/ beside dist/,
// where the bundled `protoRoot` points. What stays external is what package.json lists as dependencies.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  noExternal: ['@trine/proto'],
  shims: true,
  sourcemap: true,
  clean: true,
  onSuccess: async () => cpSync('../../proto/trine', 'trine', { recursive: true }),
});
