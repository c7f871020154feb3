import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';
import { workspaceAlias } from '../../vitest.shared';

// The shared aliases map package roots to src/index.ts; the conformance kit's vitest entry is a subpath, so it gets
// its own alias ahead of them.
const conformanceVitest = fileURLToPath(new URL('../conformance/src/vitest.ts', import.meta.url));

export default defineProject({
  resolve: {
    alias: [
      { find: '@trine/conformance/vitest', replacement: conformanceVitest },
      ...Object.entries(workspaceAlias).map(([find, replacement]) => ({ find, replacement })),
    ],
  },
  test: { name: 'kernels-cpu', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 120_000 },
});
