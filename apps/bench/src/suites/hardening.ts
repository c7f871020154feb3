/**
 * The long hardening run (issue #10: 200 concurrent streams, longer worker-SIGKILL and Redis-crash loops), started
 * by `pnpm bench --hardening`. It is apps/gateway's `scripts/hardening-long.ts` in its own process, from sources
 * through tsx like the gateway's `hardening:long` script; its `HARDENING <scenario>: k=v …` lines become results
 * (suite `hardening`, metric `<scenario>.<key>`, numeric values only), and a run that lost or duplicated work
 * (exit ≠ 0) is reported as failed.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { BenchResult } from '../report/schema.js';
import { appsDir } from './serving.js';

/** `HARDENING load: streams=200 lost=0 …` → results; other lines → nothing. */
export function parseHardeningLine(line: string): BenchResult[] {
  const m = /^HARDENING ([\w-]+): (.*)$/.exec(line.trim());
  if (!m) return [];
  const fields = new Map(m[2]!.split(' ').map((kv) => kv.split('=', 2) as [string, string]));
  const backend = fields.get('backend') ?? 'cpu';
  const out: BenchResult[] = [];
  for (const [k, v] of fields) {
    if (v === undefined || v === '' || !Number.isFinite(Number(v))) continue;
    out.push({ suite: 'hardening', engine: 'trine', backend, shape: 'default', threads: 0, batch: 0, metric: `${m[1]}.${k}`, value: Number(v), unit: '', higherIsBetter: false });
  }
  return out;
}

export async function runHardeningLong(log: (line: string) => void, timeoutMs = 30 * 60_000): Promise<{ results: BenchResult[]; failure?: string }> {
  const root = dirname(appsDir());
  const child = spawn(process.execPath, ['--import', 'tsx', join('apps', 'gateway', 'scripts', 'hardening-long.ts')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const results: BenchResult[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const parsed = parseHardeningLine(line);
      if (parsed.length > 0) {
        log(`  ${line.trim()}`);
        results.push(...parsed);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (c, s) => resolve({ code: c, signal: s })),
  );
  clearTimeout(timer);
  if (code === 0) return { results };
  return { results, failure: `hardening run failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${stderr.split('\n').filter(Boolean).slice(-3).join(' | ')}` };
}
