/**
 * Real `trine` processes (the built CLI, apps/cli/dist/main.js: `pnpm --filter @trine/cli build`) against the fake
 * Hub over loopback: pull, two pulls at once, a pull killed mid-file and resumed, offline, --model hf:…, models.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeHub, sha256 } from './fake-hub.js';
import { COMMIT_A, fixture, repoRoot, tempDir } from './support.js';

const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const i2s = fixture('tiny-bitnet-b158-i2_s');
const tq2 = fixture('tiny-bitnet-tq2_0');

let hub: FakeHub;
let cache: { path: string; remove: () => void };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `trine ARGS` with the Hub and cache of this test; the fake Hub answers from this process, so never spawnSync. */
function start(args: string[], env: Record<string, string> = {}): { done: Promise<Run>; kill: () => void } {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: repoRoot,
    env: { ...process.env, HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: cache.path, HF_TOKEN: '', HF_HUB_OFFLINE: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: () => child.kill('SIGKILL') };
}

const trine = (args: string[], env?: Record<string, string>): Promise<Run> => start(args, env).done;

beforeAll(async () => {
  expect(existsSync(main), `${main} is missing: run \`pnpm --filter @trine/cli build\` first`).toBe(true);
  hub = await new FakeHub().start();
  hub.addRepo('org/ggufs', {
    commit: COMMIT_A,
    files: { 'tiny-tq2_0.gguf': { bytes: tq2, lfs: true }, 'tiny-i2_s.gguf': { bytes: i2s, lfs: true } },
  });
  hub.addRepo('org/private', { commit: COMMIT_A, token: 'hf_secret', files: { 'm-i2_s.gguf': { bytes: i2s, lfs: true } } });
});
afterAll(() => hub.stop());
beforeEach(() => {
  cache = tempDir('trine-hub-cli-');
  hub.faults.clear();
  hub.bodySends.clear();
  hub.requests.length = 0;
});
afterEach(() => cache.remove());

const snapshotFile = (file: string): string => join(cache.path, 'models--org--ggufs', 'snapshots', COMMIT_A, file);

describe('trine pull', () => {
  it('pulls the I2_S file, says so, and prints its path', async () => {
    const r = await trine(['pull', 'org/ggufs']);
    expect(r.stderr).toMatch(/picked tiny-i2_s\.gguf \(I2_S, told by its file name\)/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(snapshotFile('tiny-i2_s.gguf'));
    expect(readlinkSync(snapshotFile('tiny-i2_s.gguf'))).toBe(`../../blobs/${sha256(i2s)}`);
    expect(readFileSync(join(cache.path, 'models--org--ggufs', 'refs', 'main'), 'utf8')).toBe(COMMIT_A);
  });

  it('two processes pulling one file download it once', async () => {
    // A slow body keeps the first download open while the second process starts.
    hub.faults.set(sha256(i2s), { slow: { chunk: 64 << 10, delayMs: 40 } });
    const [a, b] = await Promise.all([trine(['pull', 'org/ggufs']), trine(['pull', 'org/ggufs'])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.stdout).toBe(b.stdout);
    expect(hub.bodySends.get(sha256(i2s))).toEqual([0]);
    expect(sha256(readFileSync(a.stdout.trim()))).toBe(sha256(i2s));
  });

  it('a pull killed mid-file is resumed with Range by the next one (its lock is taken over)', async () => {
    hub.faults.set(sha256(i2s), { slow: { chunk: 32 << 10, delayMs: 50 } });
    const first = start(['pull', 'org/ggufs']);
    const partial = join(cache.path, 'models--org--ggufs', 'blobs', `${sha256(i2s)}.incomplete`);
    while (!existsSync(partial) || statSync(partial).size < 100_000) await new Promise((r) => setTimeout(r, 20));
    first.kill();
    await first.done;
    hub.faults.delete(sha256(i2s));
    const r = await trine(['pull', 'org/ggufs']);
    expect(r.code).toBe(0);
    const starts = hub.bodySends.get(sha256(i2s))!;
    expect(starts.length).toBe(2);
    expect(starts[1]).toBeGreaterThanOrEqual(100_000);
    expect(sha256(readFileSync(r.stdout.trim()))).toBe(sha256(i2s));
    expect(existsSync(partial)).toBe(false);
  });

  it('offline: answers from the cache without a request; without the file cached, one clear line', async () => {
    expect((await trine(['pull', 'org/ggufs', '--file', 'tiny-tq2_0.gguf'])).code).toBe(0);
    hub.requests.length = 0;
    const cached = await trine(['pull', 'org/ggufs', '--file', 'tiny-tq2_0.gguf'], { HF_HUB_OFFLINE: '1' });
    expect(cached.code).toBe(0);
    expect(cached.stdout.trim()).toBe(snapshotFile('tiny-tq2_0.gguf'));
    const missing = await trine(['pull', 'org/ggufs', '--file', 'tiny-i2_s.gguf'], { HF_HUB_OFFLINE: '1' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^trine pull: HF_HUB_OFFLINE is set, and org\/ggufs@main\/tiny-i2_s\.gguf is not in the cache/m);
    expect(hub.requests).toEqual([]);
  });

  it('401: one line that says to set HF_TOKEN; with the token it pulls', async () => {
    const denied = await trine(['pull', 'org/private']);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^trine pull: org\/private@main: access denied \(HTTP 401\).*set HF_TOKEN/)]);
    expect((await trine(['pull', 'org/private'], { HF_TOKEN: 'hf_secret' })).code).toBe(0);
  });
});

describe('--model hf:… and trine models', () => {
  it('tokenize --model hf:org/ggufs pulls, then opens the file', async () => {
    const r = await trine(['tokenize', '--model', 'hf:org/ggufs', 'hello']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expect.arrayContaining([763])); // BOS of the fixtures' tokenizer
    expect(existsSync(snapshotFile('tiny-i2_s.gguf'))).toBe(true);
  });

  it('models lists repo, revision, file, size and type; models rm removes', async () => {
    await trine(['pull', 'org/ggufs']);
    await trine(['pull', 'org/ggufs', '--file', 'tiny-tq2_0.gguf']);
    const list = await trine(['models']);
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['REPO', 'REVISION', 'FILE', 'SIZE', 'TYPE'],
      ['org/ggufs', 'main', 'tiny-i2_s.gguf', '0.8 MB', 'I2_S'],
      ['org/ggufs', 'main', 'tiny-tq2_0.gguf', '0.8 MB', 'TQ2_0'],
    ]);
    const rm = await trine(['models', 'rm', 'org/ggufs']);
    expect(rm.stdout).toMatch(/^removed org\/ggufs \(1\.7 MB freed\)/);
    expect((await trine(['models'])).stdout).toMatch(/^no models in/);
  });
});
