/**
 * The web chat at `/` in real Chromium against a running standalone gateway: a typed message streams tokens in,
 * the second turn carries the first, the stop button ends a stream (and the server's open streams go back to 0),
 * and a rate-limited turn shows its error.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// The browser harness of the kernels packages' tests (shared, not copied).
import { launchChromium } from '../../../packages/kernels-wasm/test/support/chromium.js';
import { startStandalone, type Running } from '../src/index.js';

// playwright-core is the kernels packages' dependency, not the gateway's: its types come through the harness.
type BrowserContext = Awaited<ReturnType<typeof launchChromium>>['context'];
type Page = Awaited<ReturnType<BrowserContext['newPage']>>;

let sa: Running;
let browser: { context: BrowserContext; close(): Promise<void> };

beforeAll(async () => {
  [sa, browser] = await Promise.all([
    // Three chat turns a minute: the fourth is refused, which the page must show.
    startStandalone({ TRINE_LISTEN: '127.0.0.1:0', TRINE_BACKEND: 'reference', TRINE_CACHE_TTL_MS: '0', TRINE_RATE_LIMIT: '3/60' }),
    launchChromium(),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sa?.stop(500);
});

type Sent = { messages: { role: string; content: string }[]; stream: boolean; max_tokens: number };

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

const finished = (page: Page) => page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled, undefined, { timeout: 60_000 });
const assistant = (page: Page) => page.locator('.msg.assistant');

describe('web chat', () => {
  it('streams, carries history, stops, and shows a rate-limit error', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const sent: Sent[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/chat/completions')) sent.push(JSON.parse(r.postData()!) as Sent);
    });
    await page.goto(`http://127.0.0.1:${sa.server.httpPort}/`);
    await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).options.length > 0);
    expect(await page.inputValue('#model')).toBe(sa.host!.info.name);
    // Count the assistant bubble's updates: streamed text arrives in several, not at once.
    await page.evaluate(() => {
      (window as unknown as { updates: number }).updates = 0;
      new MutationObserver((ms) => ((window as unknown as { updates: number }).updates += ms.filter((m) => (m.target as Element).classList?.contains('assistant')).length)).observe(
        document.getElementById('log')!,
        { childList: true, subtree: true, characterData: true },
      );
    });
    await page.fill('#max_tokens', '12');
    await page.fill('#temperature', '0');

    await send(page, 'Hello there');
    await finished(page);
    const first = (await assistant(page).nth(0).textContent()) ?? '';
    expect(first.length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { updates: number }).updates)).toBeGreaterThan(1);
    expect(await page.textContent('#stats')).toMatch(/^12 tokens · first token \d+ ms · [\d.]+ tokens\/s$/);
    expect(sent[0]).toMatchObject({ stream: true, max_tokens: 12, messages: [{ role: 'user', content: 'Hello there' }] });

    await send(page, 'And then?');
    await finished(page);
    expect(sent[1]!.messages).toEqual([
      { role: 'user', content: 'Hello there' },
      { role: 'assistant', content: first },
      { role: 'user', content: 'And then?' },
    ]);
    expect(await assistant(page).count()).toBe(2);

    // A long answer, stopped once its first tokens are in.
    await page.click('#clear');
    await page.fill('#max_tokens', '200');
    await send(page, 'Go on');
    await page.waitForFunction(() => (document.querySelector('.msg.assistant')?.textContent ?? '').length > 0, undefined, { timeout: 60_000 });
    await page.click('#stop');
    await finished(page);
    expect(await assistant(page).nth(0).getAttribute('class')).toContain('stopped');
    await vi.waitFor(() => expect(sa.server.http!.openStreams).toBe(0), { timeout: 20_000, interval: 20 });
    expect(sa.server.metrics.cancelled).toBe(1);

    // The fourth turn in a minute is rate limited: the page says so, and the failed turn leaves no history.
    await page.fill('#max_tokens', '4');
    await send(page, 'One more');
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    expect(await page.textContent('#error')).toMatch(/^429: rate limit exceeded.*\(retry after \d+ s\)$/);
    await finished(page);
    expect(await page.locator('.msg.user').count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
