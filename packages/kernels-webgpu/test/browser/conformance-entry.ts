// Runs in Chromium: conformance cases against the webgpu backend on navigator.gpu, results handed to the Node test.
import { runConformance } from '@trine/conformance';
import { createWebGpuBackend, type CreateWebGpuBackendOptions } from '../../src/index.js';

interface SuiteRequest {
  options: CreateWebGpuBackendOptions;
  filter: string;
}

(globalThis as Record<string, unknown>).runSuite = async (req: SuiteRequest) => {
  const backend = await createWebGpuBackend(req.options);
  try {
    const report = await runConformance(backend, { mode: 'test', large: false, filter: req.filter });
    return {
      info: backend.info,
      results: report.results.map((r) => ({
        name: r.name,
        status: r.status,
        reason: r.reason ?? '',
        detail: (r.outputs ?? []).filter((o) => !o.ok).map((o) => o.detail).join('; '),
      })),
    };
  } finally {
    backend.destroy();
  }
};
