import { defineConfig } from 'vitest/config';

// One vitest process runs every package's tests (projects mode); each package has its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'proto', 'infra'],
  },
});
