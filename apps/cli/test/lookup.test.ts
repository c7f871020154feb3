/**
 * `trine generate --lookup K` (prompt-lookup decoding) as a real process on every backend: the same greedy tokens as
 * without it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(root, 'apps', 'cli', 'dist', 'main.js');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let cacheDir: string;

function tokens(backend: string, extra: string[]): number[] {
  const r = spawnSync(
    process.execPath,
    [main, 'generate', '--prompt', 'And God said, Let there be light: and there was light. And God said, Let there be', '--max-tokens', '24', '--backend', backend, '--json', ...extra],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 280_000,
      env: {
        ...process.env,
        TRINE_CACHE_DIR: cacheDir,
        TRINE_BACKEND: '',
        TRINE_THREADS: '',
        TRINE_PROMPT_LOOKUP: '',
        // WebGPU through Dawn on SwiftShader where the host has no GPU (as kernels-webgpu's tests run it).
        ...(backend === 'webgpu' && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {}),
      },
    },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout) as { token_ids: number[] }).token_ids;
}

beforeAll(() => {
  expect(existsSync(main), `${main} is missing: run \`pnpm build\` first`).toBe(true);
  cacheDir = mkdtempSync(join(tmpdir(), 'trine-lookup-'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('trine generate --lookup', () => {
  for (const backend of ['reference', 'cpu', 'wasm', 'webgpu']) {
    it(`drafts and verifies without changing the greedy tokens (${backend})`, () => {
      const plain = tokens(backend, []);
      expect(plain.length).toBe(24);
      expect(tokens(backend, ['--lookup', '6'])).toEqual(plain);
    }, backend === 'webgpu' ? 300_000 : 60_000);
  }

  it('refuses a K beyond 16, naming the flag', () => {
    const r = spawnSync(process.execPath, [main, 'generate', '--prompt', 'hi', '--lookup', '17'], { cwd: root, encoding: 'utf8', env: { ...process.env, TRINE_CACHE_DIR: cacheDir } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--lookup');
  });
});
