import { defineConfig } from 'tsup';
// `webgpu` (Dawn for Node) stays external: it is loaded lazily, only in Node, only when no navigator.gpu exists.
export default defineConfig({ entry: ['src/index.ts'], format: ['esm', 'cjs'], dts: true, shims: true, sourcemap: true, clean: true, external: ['webgpu'] });
