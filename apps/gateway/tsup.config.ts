import { defineConfig } from 'tsup';
export default defineConfig({ entry: ['src/index.ts', 'src/main.ts', 'src/standalone.ts', 'src/dev/redis-server.ts'], format: ['esm', 'cjs'], dts: { entry: ['src/index.ts', 'src/dev/redis-server.ts'] }, shims: true, sourcemap: true, clean: true });
