import { defineConfig } from 'tsup';
// engine-thread is its own entry: worker_threads loads it by file path, beside index.js. otel/index is
// `@trine/serving/otel`, dev/redis-server `@trine/serving/dev/redis-server`.
const dts = ['src/index.ts', 'src/otel/index.ts', 'src/dev/redis-server.ts'];
export default defineConfig({ entry: [...dts, 'src/engine-thread.ts'], format: ['esm', 'cjs'], dts: { entry: dts }, shims: true, sourcemap: true, clean: true });
