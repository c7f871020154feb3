import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Workspace packages resolve to their TypeScript sources in tests, so tests never run against a stale dist. */
export const workspaceAlias = {
  '@trine/core': `${root}packages/core/src/index.ts`,
  // Subpath entries first: the first matching prefix wins.
  '@trine/conformance/vitest': `${root}packages/conformance/src/vitest.ts`,
  '@trine/conformance/cli': `${root}packages/conformance/src/cli.ts`,
  '@trine/conformance': `${root}packages/conformance/src/index.ts`,
  '@trine/kernels-cpu': `${root}packages/kernels-cpu/src/index.ts`,
  '@trine/kernels-wasm': `${root}packages/kernels-wasm/src/index.ts`,
  '@trine/kernels-webgpu': `${root}packages/kernels-webgpu/src/index.ts`,
  '@trine/client': `${root}packages/client/src/index.ts`,
  '@trine/proto': `${root}proto/src/index.ts`,
  // infra's tests check the worker image's health service against the worker's own WorkerHealth.
  '@trine/worker': `${root}apps/worker/src/index.ts`,
  '@trine/telemetry': `${root}packages/telemetry/src/index.ts`,
  '@trine/serving/otel': `${root}packages/serving/src/otel/index.ts`,
  '@trine/serving/dev/redis-server': `${root}packages/serving/src/dev/redis-server.ts`,
  '@trine/serving': `${root}packages/serving/src/index.ts`,
  '@trine/backends': `${root}packages/backends/src/index.ts`,
  '@trine/args': `${root}packages/args/src/index.ts`,
  '@trine/hub': `${root}packages/hub/src/index.ts`,
};

export function project(name: string, test: UserWorkspaceConfig['test'] = {}) {
  return defineProject({
    resolve: { alias: workspaceAlias },
    test: { name, include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 60_000, ...test },
  });
}
