// Runs in Chromium: the conformance kit against the wasm backend, results handed back to the Node test.
import { runConformance } from '@trine/conformance';
import { createWasmBackend, type WasmBackendOptions } from '../../src/index.js';

interface SuiteRequest {
  options: WasmBackendOptions;
  filter?: string;
}

(globalThis as Record<string, unknown>).runSuite = async (req: SuiteRequest) => {
  const backend = await createWasmBackend({ ...req.options, baseUrl: new URL('/dist/', location.href) });
  try {
    const report = await runConformance(backend, { mode: 'test', large: false, ...(req.filter ? { filter: req.filter } : {}) });
    return {
      info: backend.info,
      crossOriginIsolated: globalThis.crossOriginIsolated,
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
