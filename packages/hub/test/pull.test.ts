import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TrineError } from '@trine/core';
import { type PullEvent, type PullOptions, listCachedModels, pull, removeCached, resolveModelPath } from '../src/index.js';
import { FakeHub, gitOid, sha256 } from './fake-hub.js';
import { COMMIT_A, COMMIT_B, closedPort, fixture, settingsFor, tempDir } from './support.js';

const i2s = fixture('tiny-bitnet-b158-i2_s');
const tq2 = fixture('tiny-bitnet-tq2_0');
const tq1 = fixture('tiny-bitnet-tq1_0');
const configJson = new TextEncoder().encode('{"architectures":["BitNetForCausalLM"]}\n');

let hub: FakeHub;
let cache: { path: string; remove: () => void };

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.addRepo('org/ggufs', {
    commit: COMMIT_A,
    refs: { v1: COMMIT_A },
    files: {
      'README.md': { bytes: new TextEncoder().encode('# tiny\n'), lfs: false },
      'tiny-tq1_0.gguf': { bytes: tq1, lfs: true },
      'tiny-i2_s.gguf': { bytes: i2s, lfs: true },
      'tiny-tq2_0.gguf': { bytes: tq2, lfs: true },
    },
  });
  hub.addRepo('org/unnamed', { commit: COMMIT_B, files: { 'a.gguf': { bytes: tq1, lfs: true }, 'b.gguf': { bytes: tq2, lfs: true } } });
  hub.addRepo('org/private', { commit: COMMIT_A, token: 'hf_secret', files: { 'm-i2_s.gguf': { bytes: i2s, lfs: true } } });
  hub.addRepo('org/gated', { commit: COMMIT_A, token: 'hf_secret', gated: true, files: { 'm-i2_s.gguf': { bytes: i2s, lfs: true } } });
  hub.addRepo('org/st', {
    commit: COMMIT_B,
    files: {
      'config.json': { bytes: configJson, lfs: false },
      'tokenizer.json': { bytes: new TextEncoder().encode('{}'), lfs: false },
      'model.safetensors': { bytes: tq2.subarray(0, 4096), lfs: true },
      'README.md': { bytes: new TextEncoder().encode('x'), lfs: false },
      'training_args.bin': { bytes: new Uint8Array(10), lfs: true },
    },
  });
});
afterAll(() => hub.stop());
beforeEach(() => {
  cache = tempDir();
  hub.faults.clear();
  hub.bodySends.clear();
  hub.requests.length = 0;
});
afterEach(() => cache.remove());

function opts(extra: Partial<PullOptions> = {}): PullOptions {
  return { settings: settingsFor(hub.hubUrl, cache.path), backoffMs: 1, ...extra };
}

async function rejection(p: Promise<unknown>): Promise<TrineError> {
  try {
    await p;
  } catch (e) {
    if (TrineError.is(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('pull: cache layout as huggingface_hub writes it', () => {
  it('picks the I2_S GGUF by name, stores blobs/<sha256>, a relative snapshot link and refs/main', async () => {
    const events: PullEvent[] = [];
    const r = await pull('hf:org/ggufs', opts({ onEvent: (e) => events.push(e) }));
    expect(r.picked).toEqual({ file: 'tiny-i2_s.gguf', type: 'I2_S', by: 'name' });
    expect(events).toContainEqual({ kind: 'picked', file: 'tiny-i2_s.gguf', type: 'I2_S', by: 'name' });
    const repoDir = join(cache.path, 'models--org--ggufs');
    const link = join(repoDir, 'snapshots', COMMIT_A, 'tiny-i2_s.gguf');
    expect(r.commit).toBe(COMMIT_A);
    expect(r.modelPath).toBe(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(`../../blobs/${sha256(i2s)}`);
    expect(sha256(readFileSync(link))).toBe(sha256(i2s));
    expect(readdirSync(join(repoDir, 'blobs'))).toEqual([sha256(i2s)]);
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(COMMIT_A);
    expect(r.files).toEqual([{ file: 'tiny-i2_s.gguf', path: link, size: i2s.byteLength, downloaded: true }]);
  });

  it('follows the redirect to the CDN without sending it the token', async () => {
    await pull('hf:org/private', opts({ settings: settingsFor(hub.hubUrl, cache.path, { token: 'hf_secret' }) }));
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((q) => q.authorization === undefined)).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('a second pull is answered from the cache: model info only, no body', async () => {
    await pull('hf:org/ggufs', opts());
    hub.requests.length = 0;
    const r = await pull('hf:org/ggufs', opts());
    expect(r.files[0]!.downloaded).toBe(false);
    expect(hub.requests.map((q) => q.method)).toEqual(['GET']);
    expect(hub.requests[0]!.path).toMatch(/^\/api\/models\/org\/ggufs\/revision\/main/);
  });

  it('nested files link with one more ../ per folder', async () => {
    hub.addRepo('org/nested', { commit: COMMIT_B, files: { 'sub/dir/x-tq2_0.gguf': { bytes: tq2, lfs: true } } });
    const r = await pull('hf:org/nested', opts());
    expect(readlinkSync(r.modelPath)).toBe(`../../../../blobs/${sha256(tq2)}`);
  });

  it('--file takes that file; a revision other than a commit is written to refs/<rev>', async () => {
    const r = await pull('hf:org/ggufs@v1', opts({ file: 'tiny-tq1_0.gguf' }));
    expect(r.picked).toBeUndefined();
    expect(r.modelPath.endsWith(join(COMMIT_A, 'tiny-tq1_0.gguf'))).toBe(true);
    expect(readFileSync(join(cache.path, 'models--org--ggufs', 'refs', 'v1'), 'utf8')).toBe(COMMIT_A);
  });

  it('tells the ternary type from the GGUF header (Range reads) when names do not', async () => {
    const r = await pull('hf:org/unnamed', opts());
    expect(r.picked).toEqual({ file: 'b.gguf', type: 'TQ2_0', by: 'header' });
    // Only b.gguf was downloaded whole: a.gguf's header came from ranged reads.
    const cdn = (bytes: Uint8Array) => hub.requests.filter((q) => q.server === 'cdn' && q.path.startsWith(`/blob/${sha256(bytes)}`));
    expect(cdn(tq1).length).toBeGreaterThan(0);
    expect(cdn(tq1).every((q) => q.range !== undefined)).toBe(true);
    expect(cdn(tq2).filter((q) => q.range === undefined).length).toBe(1);
  });

  it('a safetensors repo: config, tokenizer and weights (non-LFS files checked by git blob id); the folder is the model', async () => {
    const r = await pull('hf:org/st', opts());
    expect(r.files.map((f) => f.file).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(r.modelPath).toBe(join(cache.path, 'models--org--st', 'snapshots', COMMIT_B));
    expect(readlinkSync(join(r.modelPath, 'config.json'))).toBe(`../../blobs/${gitOid(configJson)}`);
  });
});

describe('pull: downloads users can trust', () => {
  it('resumes with Range after the connection is cut mid-file', async () => {
    const etag = sha256(i2s);
    hub.faults.set(etag, { cut: { times: 1, cutAfter: 300_000 } });
    const r = await pull('hf:org/ggufs', opts());
    expect(sha256(readFileSync(r.modelPath))).toBe(sha256(i2s));
    const starts = hub.bodySends.get(etag)!;
    expect(starts.length).toBe(2);
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBeGreaterThan(0); // the second request asked for the rest only
  });

  it('a wrong hash: CHECKSUM_MISMATCH, the file is deleted and never linked', async () => {
    hub.faults.set(sha256(i2s), { corrupt: true });
    const e = await rejection(pull('hf:org/ggufs', opts()));
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toMatch(/SHA-256 .* the Hub states .*deleted/);
    const repoDir = join(cache.path, 'models--org--ggufs');
    expect(readdirSync(join(repoDir, 'blobs'))).toEqual([]);
    expect(existsSync(join(repoDir, 'snapshots', COMMIT_A, 'tiny-i2_s.gguf'))).toBe(false);
  });

  it('500s are retried, then succeed', async () => {
    hub.faults.set(sha256(i2s), { fail500: 2 });
    const lines: string[] = [];
    const r = await pull('hf:org/ggufs', opts({ onEvent: (e) => e.kind === 'log' && lines.push(e.line) }));
    expect(sha256(readFileSync(r.modelPath))).toBe(sha256(i2s));
    expect(lines.filter((l) => /HTTP 500; retrying/.test(l)).length).toBe(2);
  });

  it('a server that keeps failing: one UNAVAILABLE error after the retries', async () => {
    hub.faults.set(sha256(i2s), { always500: true });
    const e = await rejection(pull('hf:org/ggufs', opts({ retries: 2 })));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/HTTP 500 \(gave up after 3 tries\)/);
  });

  it('no network: UNAVAILABLE naming the host, after the retries', async () => {
    const closed = settingsFor(await closedPort(), cache.path);
    const e = await rejection(pull('hf:org/ggufs', opts({ settings: closed, retries: 1 })));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED \(gave up after 2 tries\).*HF_HUB_OFFLINE/);
  });

  it('a slow body still arrives whole', async () => {
    hub.faults.set(sha256(tq1), { slow: { chunk: 64 << 10, delayMs: 5 } });
    const r = await pull('hf:org/ggufs', opts({ file: 'tiny-tq1_0.gguf' }));
    expect(sha256(readFileSync(r.modelPath))).toBe(sha256(tq1));
  });

  it('a body that stalls longer than the idle timeout is cut and resumed', async () => {
    hub.faults.set(sha256(tq1), { slow: { chunk: 200_000, delayMs: 1000 } });
    const r = await pull('hf:org/ggufs', opts({ file: 'tiny-tq1_0.gguf', idleTimeoutMs: 300, retries: 10 }));
    expect(sha256(readFileSync(r.modelPath))).toBe(sha256(tq1));
    expect(hub.sends(hub.repos.get('org/ggufs')!.files['tiny-tq1_0.gguf']!).length).toBeGreaterThan(1);
  });

  it('a full disk: DISK_FULL, not a crash', async () => {
    const blobs = join(cache.path, 'models--org--ggufs', 'blobs');
    mkdirSync(blobs, { recursive: true });
    symlinkSync('/dev/full', join(blobs, `${sha256(i2s)}.incomplete`)); // every write there fails with ENOSPC
    const e = await rejection(pull('hf:org/ggufs', opts()));
    expect(e.code).toBe('DISK_FULL');
    expect(e.message).toMatch(/no space left/);
  });

  it('two pulls of one file at once download it once', async () => {
    const [a, b] = await Promise.all([pull('hf:org/ggufs', opts()), pull('hf:org/ggufs', opts())]);
    expect(a.modelPath).toBe(b.modelPath);
    expect(hub.bodySends.get(sha256(i2s))).toEqual([0]);
    expect([a.files[0]!.downloaded, b.files[0]!.downloaded].sort()).toEqual([false, true]);
  });
});

describe('pull: errors name the problem', () => {
  it('401 without a token: set HF_TOKEN', async () => {
    const e = await rejection(pull('hf:org/private', opts()));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toMatch(/access denied \(HTTP 401\).*set HF_TOKEN/);
  });

  it('403 on a gated repo with a token that may not read it', async () => {
    const e = await rejection(pull('hf:org/gated', opts({ settings: settingsFor(hub.hubUrl, cache.path, { token: 'hf_other' }) })));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.message).toMatch(/HTTP 403.*gated: accept its conditions/);
  });

  it('404 for a revision, and for a file', async () => {
    const rev = await rejection(pull('hf:org/ggufs@nope', opts()));
    expect(rev.code).toBe('NOT_FOUND');
    expect(rev.message).toMatch(/revision 'nope' not found/);
    const file = await rejection(pull('hf:org/ggufs/missing.gguf', opts()));
    expect(file.code).toBe('NOT_FOUND');
    expect(file.message).toMatch(/file 'missing.gguf' not found.*tiny-i2_s.gguf/);
  });

  it('404 for a repo when a token is sent', async () => {
    const e = await rejection(pull('hf:org/none', opts({ settings: settingsFor(hub.hubUrl, cache.path, { token: 't' }) })));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/repository org\/none not found/);
  });

  it('a repo with no ternary GGUF: UNSUPPORTED, asks for --file', async () => {
    hub.addRepo('org/f16', { commit: COMMIT_A, files: { 'model-f16.gguf': { bytes: new Uint8Array(64), lfs: true } } });
    const e = await rejection(pull('hf:org/f16', opts()));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/--file/);
  });
});

describe('offline (HF_HUB_OFFLINE)', () => {
  it('answers from the cache without a request, and says what is missing when it is not cached', async () => {
    await pull('hf:org/ggufs', opts());
    hub.requests.length = 0;
    const offline = opts({ settings: settingsFor(hub.hubUrl, cache.path, { offline: true }) });
    const r = await pull('hf:org/ggufs', offline);
    expect(r.fromCache).toBe(true);
    expect(r.picked?.file).toBe('tiny-i2_s.gguf');
    expect(hub.requests).toEqual([]);
    const e = await rejection(pull('hf:org/st', offline));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/HF_HUB_OFFLINE is set, and org\/st@main is not in the cache/);
  });

  it('an unreachable Hub falls back to the cached snapshot', async () => {
    await pull('hf:org/ggufs', opts());
    const down = opts({ settings: settingsFor(await closedPort(), cache.path), retries: 0 });
    expect(await resolveModelPath('hf:org/ggufs', down)).toBe(join(cache.path, 'models--org--ggufs', 'snapshots', COMMIT_A, 'tiny-i2_s.gguf'));
  });
});

describe('models list and rm', () => {
  it('lists repo, revision, file, size and ternary type; rm removes a file, then the repo', async () => {
    await pull('hf:org/ggufs', opts());
    await pull('hf:org/ggufs', opts({ file: 'tiny-tq2_0.gguf' }));
    await pull('hf:org/st', opts());
    const settings = settingsFor(hub.hubUrl, cache.path);
    const list = await listCachedModels(settings);
    expect(list.map((m) => [m.repo, m.revisions, m.file, m.size, m.ternaryType])).toEqual([
      ['org/ggufs', ['main'], 'tiny-i2_s.gguf', i2s.byteLength, 'I2_S'],
      ['org/ggufs', ['main'], 'tiny-tq2_0.gguf', tq2.byteLength, 'TQ2_0'],
      ['org/st', ['main'], '*.safetensors', configJson.byteLength + 2 + 4096, 'safetensors'],
    ]);
    const r = await removeCached('org/ggufs/tiny-tq2_0.gguf', settings);
    expect(r.freedBytes).toBe(tq2.byteLength);
    expect(readdirSync(join(cache.path, 'models--org--ggufs', 'blobs'))).toEqual([sha256(i2s)]);
    await removeCached('hf:org/ggufs', settings);
    expect(existsSync(join(cache.path, 'models--org--ggufs'))).toBe(false);
    expect((await rejection(removeCached('org/ggufs', settings))).code).toBe('NOT_FOUND');
  });
});
