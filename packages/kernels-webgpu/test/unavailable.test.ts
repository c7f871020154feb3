import { TrineError } from '@trine/core';
import { expect, it } from 'vitest';
import { webgpuBackendFactory } from '../src/index.js';

// A Vulkan loader with no driver (what a host without a GPU or SwiftShader looks like): the factory must reject
// with BACKEND_UNAVAILABLE (so the registry falls back), not hang. Own file: the loader reads the variable once.
process.env.VK_ICD_FILENAMES = '/nonexistent/trine-no-driver.json';

it('rejects with BACKEND_UNAVAILABLE when there is no adapter', async () => {
  expect(webgpuBackendFactory).toMatchObject({ name: 'webgpu', priority: 30 });
  const err = await webgpuBackendFactory.create().then(
    () => null,
    (e: unknown) => e,
  );
  expect(TrineError.is(err, 'BACKEND_UNAVAILABLE')).toBe(true);
  expect((err as Error).message).toMatch(/no GPU adapter|VK_ICD_FILENAMES/);
});
