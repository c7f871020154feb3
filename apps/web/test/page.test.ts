import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL_TQ2, randomModelBytes } from '../../../packages/core/src/model/test-support/random-model.js';
// The browser harness of the kernels packages' tests (shared, not copied).
import { launchChromium } from '../../../packages/kernels-wasm/test/support/chromium.js';
import type { StaticServer } from '../../../packages/kernels-wasm/test/support/server.js';
import { serveWeb } from '../serve.mjs';

// End to end in Chromium: the page (plain ESM from the built dist/ files) fetches Trine's trained default model, loads
// it on the wasm backend and streams generated text into the page. Comparisons between runs are greedy (temperature 0).

let server: StaticServer;
let browser: { context: BrowserContext; close(): Promise<void> };

beforeAll(async () => {
  server = await serveWeb();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function generateIn(
  query: string,
  pick?: (page: Page) => Promise<void>,
  context: BrowserContext = browser.context,
  temperature = '0',
): Promise<{ text: string; tokens: number; status: string; info: string; loaded: string }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${server.url}/${query}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await pick?.(page);
    await page.click('#load');
    await page.waitForFunction(() => !(document.getElementById('generate') as HTMLButtonElement).disabled || /Error/.test(document.getElementById('status')!.textContent!), undefined, { timeout: 120_000 });
    const loaded = (await page.textContent('#status')) ?? '';
    expect(loaded).toMatch(/^Loaded /);
    await page.fill('#max-tokens', '12');
    await page.fill('#temperature', temperature);
    await page.click('#generate');
    await page.waitForFunction(() => /^(Done|Error)/.test(document.getElementById('status')!.textContent!), undefined, { timeout: 120_000 });
    return {
      text: (await page.textContent('#output')) ?? '',
      tokens: Number(await page.getAttribute('#output', 'data-tokens')),
      status: (await page.textContent('#status')) ?? '',
      info: (await page.textContent('#backend-info')) ?? '',
      loaded,
    };
  } finally {
    expect(errors).toEqual([]);
    await page.close();
  }
}

describe('web page', () => {
  it('generates text client-side with the wasm backend (cross-origin isolated: threads)', async () => {
    const r = await generateIn('', undefined, browser.context, '0.7');
    expect(r.loaded).toMatch(/^Loaded trine-default-3m \(3 layers, hidden 256, vocab 4096\)/);
    expect(r.status).toMatch(/^Done: \d+ tokens/);
    expect(r.tokens).toBeGreaterThan(0);
    // The trained model writes words: mostly letters and spaces, not the random model's byte soup.
    expect(r.text.replace(/[^A-Za-z ]/g, '').length).toBeGreaterThan(r.text.length * 0.7);
    expect(r.info).toMatch(/^wasm · (simd128|relaxed-simd) · \d+ threads?$/);
  }, 300_000);

  it('generates the same greedy text single-threaded when the page is not isolated', async () => {
    const isolated = await generateIn('');
    const single = await generateIn('?isolated=0');
    expect(single.info).toMatch(/· 1 thread$/);
    expect(single.text).toBe(isolated.text);
  }, 300_000);

  it('loads a GGUF file the user picks (a TQ2_0 model written by Trine) and generates from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trine-web-'));
    const file = join(dir, 'random-tq2_0.gguf');
    await writeFile(file, randomModelBytes(SMALL_TQ2));
    try {
      const r = await generateIn('', async (page) => {
        await page.check('input[name=model][value=file]');
        await page.setInputFiles('#file', file);
      });
      expect(r.loaded).toMatch(/^Loaded random-bitnet-TQ2_0 \(2 layers, hidden 256/);
      expect(r.status).toMatch(/^Done: \d+ tokens/);
      expect(r.tokens).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('switches to the webgpu backend (Chromium with WebGPU on SwiftShader) and gives the wasm backend’s greedy text', async () => {
    const webgpuBrowser = await launchChromium(['--enable-unsafe-webgpu']);
    try {
      const wasm = await generateIn('', (page) => page.selectOption('#backend', 'wasm').then(() => undefined), webgpuBrowser.context);
      const gpu = await generateIn('', (page) => page.selectOption('#backend', 'webgpu').then(() => undefined), webgpuBrowser.context);
      expect(wasm.info).toMatch(/^wasm · /);
      expect(gpu.info).toMatch(/^webgpu · browser:/);
      expect(gpu.status).toMatch(/^Done: \d+ tokens/);
      expect(gpu.text).toBe(wasm.text);
    } finally {
      await webgpuBrowser.close();
    }
  }, 300_000);
});
