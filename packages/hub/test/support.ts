import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import type { HubSettings } from '../src/index.js';

/** Repo root: this file is packages/hub/test/support.ts. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The shared tiny GGUF fixtures (`../shared/fixtures` beside the repo). */
export function fixture(name: 'tiny-bitnet-b158-i2_s' | 'tiny-bitnet-tq2_0' | 'tiny-bitnet-tq1_0' | 'tiny-bitnet25-i2_s'): Uint8Array {
  return new Uint8Array(readFileSync(join(repoRoot, '..', 'shared', 'fixtures', `${name}.gguf`)));
}

export const COMMIT_A = 'a'.repeat(32) + '12345678';
export const COMMIT_B = 'b'.repeat(32) + '87654321';

export function tempDir(prefix = 'trine-hub-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function settingsFor(endpoint: string, cacheDir: string, extra: Partial<HubSettings> = {}): HubSettings {
  return { endpoint, cacheDir, token: undefined, offline: false, ...extra };
}

/** A loopback URL nothing listens on (a port just closed), for "no network". */
export async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}
