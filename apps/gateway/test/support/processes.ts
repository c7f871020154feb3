/** Spawning Trine processes from sources for tests (node + tsx), waiting for a JSON log line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface Proc {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node --import tsx <file>` from the repository root with `env` added. */
export function spawnTs(file: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve(l: Record<string, unknown>): void }[] = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        logs.push(l);
        for (const w of waiters.filter((x) => x.msg === l.msg)) w.resolve(l);
      } catch {
        // not a log line
      }
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    logs,
    exited: () => exit,
    waitFor(msg, timeoutMs = 60_000) {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${file}: no '${msg}' log within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        void exit.then(({ code }) => reject(new Error(`${file} exited (${code}) before '${msg}'; stderr: ${stderr.slice(-2000)}`)));
        waiters.push({ msg, resolve: (l) => (clearTimeout(t), resolve(l)) });
      });
    },
  };
}
