import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { serveDemo, type StaticServer } from './support/server.js';

// End to end in Chromium: the demo page (plain ESM from the built dist/ files) builds the embedded default model,
// loads it on the wasm backend and streams generated text into the page.

let server: StaticServer;
let browser: { context: BrowserContext; close(): Promise<void> };

beforeAll(async () => {
  server = await serveDemo();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function generateIn(query: string): Promise<{ text: string; tokens: number; status: string; info: string }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${server.url}/demo/${query}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.click('#load');
    await page.waitForFunction(() => !(document.getElementById('generate') as HTMLButtonElement).disabled || /Error/.test(document.getElementById('status')!.textContent!), undefined, { timeout: 120_000 });
    expect(await page.textContent('#status')).toMatch(/^Loaded /);
    await page.fill('#max-tokens', '12');
    await page.click('#generate');
    await page.waitForFunction(() => /^(Done|Error)/.test(document.getElementById('status')!.textContent!), undefined, { timeout: 120_000 });
    return {
      text: (await page.textContent('#output')) ?? '',
      tokens: Number(await page.getAttribute('#output', 'data-tokens')),
      status: (await page.textContent('#status')) ?? '',
      info: (await page.textContent('#backend-info')) ?? '',
    };
  } finally {
    expect(errors).toEqual([]);
    await page.close();
  }
}

describe('demo page', () => {
  it('generates text client-side with the wasm backend (cross-origin isolated: threads)', async () => {
    const r = await generateIn('');
    expect(r.status).toMatch(/^Done: \d+ tokens/);
    expect(r.tokens).toBeGreaterThan(0);
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.info).toMatch(/^wasm · (simd128|relaxed-simd) · \d+ threads?$/);
  }, 300_000);

  it('generates the same greedy text single-threaded when the page is not isolated', async () => {
    const isolated = await generateIn('');
    const single = await generateIn('?isolated=0');
    expect(single.info).toMatch(/· 1 thread$/);
    expect(single.text).toBe(isolated.text);
  }, 300_000);
});
