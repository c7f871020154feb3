import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForBrowser } from './support/bundle.js';
import { launchChromium } from './support/chromium.js';
import { serveStatic, type StaticServer } from './support/server.js';

// The conformance kit in headless Chromium against the built wasm files (dist/), once cross-origin isolated
// (2 threads, relaxed SIMD, lut16 with relaxed swizzle) and once not (one thread, relaxed dot on the w2x64 layout).
// Plain SIMD128 runs in Node (conformance.test.ts).

interface SuiteResult {
  info: { variant: string; threads: number; details?: Record<string, unknown> };
  crossOriginIsolated: boolean;
  results: { name: string; status: string; reason: string; detail: string }[];
}

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const INTEGER_OPS = /^(ternaryMatmulAcc|quantizeActs|argmax)\//;

let server: StaticServer;
let browser: { context: BrowserContext; close(): Promise<void> };

beforeAll(async () => {
  const bundle = await bundleForBrowser(fileURLToPath(new URL('./browser/conformance-entry.ts', import.meta.url)));
  server = await serveStatic(
    { '/dist/': dist },
    { '/': '<!doctype html><meta charset="utf-8"><script type="module" src="/suite.js"></script>', '/suite.js': bundle },
  );
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function runInPage(query: string, req: object): Promise<SuiteResult> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${server.url}/${query}`);
    await page.waitForFunction(() => typeof (globalThis as Record<string, unknown>).runSuite === 'function');
    return await page.evaluate(
      (r) => (globalThis as unknown as { runSuite(x: object): Promise<SuiteResult> }).runSuite(r),
      req,
    );
  } finally {
    expect(errors).toEqual([]);
    await page.close();
  }
}

function expectAllPass(r: SuiteResult): void {
  const failed = r.results.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.status} ${c.reason} ${c.detail}`);
  expect(failed).toEqual([]);
  // the integer cases ran and were compared exactly (the kit's checks for these ops are exact)
  expect(r.results.filter((c) => INTEGER_OPS.test(c.name)).length).toBeGreaterThanOrEqual(10);
}

describe('chromium', () => {
  it('cross-origin isolated: threads and validated relaxed SIMD, every small case passes', async () => {
    const r = await runInPage('?isolated=1', { options: { threads: 2 } });
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.info.threads).toBe(2);
    expect(r.info.variant).toBe('relaxed-simd'); // Chromium 156 validates it and computes the dot correctly
    expectAllPass(r);
  }, 300_000);

  it('not isolated: falls back to one thread; the relaxed dot (w2x64 layout) passes', async () => {
    const r = await runInPage('?isolated=0', { options: { threads: 2, ternaryLayout: 'w2x64' } });
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.info.threads).toBe(1);
    expect(String(r.info.details?.threadsFallback)).toMatch(/cross-origin isolated|SharedArrayBuffer/);
    expect(r.info.variant).toBe('relaxed-simd');
    expect(r.info.details?.ternaryLayout).toBe('w2x64');
    expectAllPass(r);
  }, 300_000);
});
