// Runs in Chromium: the conformance kit against the wasm backend, results handed back to the Node test. The kit's
// cases that need no file: the trained-model case reads core's assets/ from disk, and runs on wasm in Node
// (conformance.test.ts).
import { runConformance, SELF_CONTAINED_CASES } from '@trine/conformance';
import { createWasmBackend, type WasmBackendOptions } from '../../src/index.js';

interface SuiteRequest {
  options: WasmBackendOptions;
  filter?: string;
}

(globalThis as Record<string, unknown>).runSuite = async (req: SuiteRequest) => {
  const backend = await createWasmBackend({ ...req.options, baseUrl: new URL('/dist/', location.href) });
  try {
    const report = await runConformance(backend, { mode: 'test', large: false, cases: SELF_CONTAINED_CASES, ...(req.filter ? { filter: req.filter } : {}) });
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
