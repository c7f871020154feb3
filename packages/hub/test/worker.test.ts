/**
 * A real worker process (apps/worker/src/main.ts under tsx, as the gateway's process tests start it) with
 * TRINE_MODEL=hf:… against the fake Hub: it pulls the model into the cache before it loads it (and so before its
 * health can report SERVING). Needs redis-server on the PATH, as the serving tests do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRedis } from '@trine/serving/dev/redis-server';
import { FakeHub, sha256 } from './fake-hub.js';
import { COMMIT_A, fixture, repoRoot, tempDir } from './support.js';

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;

describe.skipIf(!haveRedis)('worker with TRINE_MODEL=hf:…', () => {
  it('pulls the model, then loads the pulled file', async () => {
    const i2s = fixture('tiny-bitnet-b158-i2_s');
    const hub = await new FakeHub().start();
    hub.addRepo('org/ggufs', { commit: COMMIT_A, files: { 'tiny-i2_s.gguf': { bytes: i2s, lfs: true } } });
    const cache = tempDir('trine-hub-worker-');
    const redis = await startRedis();
    const worker = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env, REDIS_URL: redis.url, TRINE_MODEL: 'hf:org/ggufs', TRINE_BACKEND: 'reference',
        HF_ENDPOINT: hub.hubUrl, HF_HUB_CACHE: cache.path, HF_TOKEN: '', HF_HUB_OFFLINE: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const logs: Record<string, unknown>[] = [];
      let stderr = '';
      worker.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        worker.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            try {
              logs.push(JSON.parse(line) as Record<string, unknown>);
            } catch {
              continue; // not a log line
            }
            if (logs.at(-1)!.msg === 'model loaded') resolve();
          }
        });
        worker.on('exit', (code) => reject(new Error(`worker exited (${code}) before loading: ${stderr}`)));
      });
      const msgs = logs.map((l) => (l.msg === 'model pull' ? `pull ${String(l.kind)}` : String(l.msg)));
      expect(msgs.indexOf('pull done')).toBeGreaterThanOrEqual(0);
      expect(msgs.indexOf('pull done')).toBeLessThan(msgs.indexOf('model loaded'));
      expect(logs.find((l) => l.kind === 'picked')).toMatchObject({ file: 'tiny-i2_s.gguf', type: 'I2_S' });
      expect(existsSync(join(cache.path, 'models--org--ggufs', 'blobs', sha256(i2s)))).toBe(true);
    } finally {
      worker.kill('SIGKILL');
      await redis.stop();
      await hub.stop();
      cache.remove();
    }
  });
});
