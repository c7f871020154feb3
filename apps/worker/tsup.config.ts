import { defineConfig } from 'tsup';
// engine-thread is its own entry: worker_threads loads it by file path. otel/index is `@trine/worker/otel`.
export default defineConfig({ entry: ['src/index.ts', 'src/main.ts', 'src/engine-thread.ts', 'src/otel/index.ts'], format: ['esm', 'cjs'], dts: { entry: ['src/index.ts', 'src/otel/index.ts'] }, shims: true, sourcemap: true, clean: true });
