import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The bundler and static server of the wasm package's browser harness (shared, not copied).
import { bundleForBrowser } from '../../kernels-wasm/test/support/bundle.js';
import { CHROMIUM } from '../../kernels-wasm/test/support/chromium.js';
import { serveStatic, type StaticServer } from '../../kernels-wasm/test/support/server.js';

// The webgpu backend in headless Chromium on its SwiftShader adapter (`--enable-unsafe-webgpu`: Chromium's
// software adapter is blocklisted otherwise): integer cases exact, with both reduction layouts.

interface SuiteResult {
  info: { variant: string; details?: Record<string, unknown> };
  results: { name: string; status: string; reason: string; detail: string }[];
}

const CASES = 'ternaryMatmulAcc/per_token/i2_s/n3,ternaryMatmulAcc/per_block256/tq2_0/n2,quantizeActs/per_token/n7,quantizeActs/per_block256/n7,argmax,rmsNorm/n4';

let server: StaticServer;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  const bundle = await bundleForBrowser(fileURLToPath(new URL('./browser/conformance-entry.ts', import.meta.url)));
  server = await serveStatic({}, { '/': '<!doctype html><meta charset="utf-8"><script type="module" src="/suite.js"></script>', '/suite.js': bundle });
  profile = await mkdtemp(join(tmpdir(), 'trine-chromium-webgpu-'));
  // The wasm harness's launch flags plus WebGPU on the software adapter.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--no-default-browser-check', '--enable-unsafe-webgpu',
    ],
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function runInPage(req: object): Promise<SuiteResult> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => typeof (globalThis as Record<string, unknown>).runSuite === 'function');
    return await page.evaluate((r) => (globalThis as unknown as { runSuite(x: object): Promise<SuiteResult> }).runSuite(r), req);
  } finally {
    expect(errors).toEqual([]);
    await page.close();
  }
}

function expectAllPass(r: SuiteResult): void {
  expect(r.results.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.status} ${c.reason} ${c.detail}`)).toEqual([]);
  expect(r.results.filter((c) => /^(ternaryMatmulAcc|quantizeActs|argmax)\//.test(c.name)).length).toBeGreaterThanOrEqual(6);
}

describe('chromium (navigator.gpu, SwiftShader)', () => {
  it('serial kernels with dot4I8Packed: integer cases exact', async () => {
    const r = await runInPage({ options: {}, filter: CASES });
    expect(r.info.variant).toMatch(/^browser:.*:dot4:serial$/);
    expectAllPass(r);
  }, 300_000);

  it('teams kernels with the unpacked int8 dot: integer cases exact', async () => {
    const r = await runInPage({ options: { variant: 'scalar', reduction: 'teams' }, filter: CASES });
    expect(r.info.details?.reduction).toBe('teams');
    expect(r.info.details?.dot4I8Packed).toBe(false);
    expectAllPass(r);
  }, 300_000);
});
