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

/** A reader of a Prometheus endpoint: each call scrapes once and returns a series' value by name and label (0 when absent). */
export function scraper(url: string): () => Promise<(name: string, label?: string) => number> {
  return async () => {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
    return (name, label = '') => {
      const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
  };
}

/** Jobs by outcome and the jobs running now, as a worker process exports them (`trine.worker.*` metrics). */
export interface WorkerJobs {
  readonly started: number;
  readonly done: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly expired: number;
  readonly handedBack: number;
  readonly active: number;
}

export interface MeteredWorker extends Proc {
  jobs(): Promise<WorkerJobs>;
  /** One series' value from the worker's Prometheus endpoint (0 when absent); `label` picks a labelled series. */
  metric(name: string, label?: string): Promise<number>;
  /**
   * The counts once every started job has its outcome: a client reads a job's last event before the worker
   * counts the job, so counts read right after a response may still miss it.
   */
  settled(timeoutMs?: number): Promise<WorkerJobs>;
}

/**
 * A worker process (the worker app's entry, never imported by the gateway's tests) with its telemetry bootstrap:
 * the test reads its job counts from its Prometheus endpoint, as an operator would.
 */
export async function startMeteredWorker(env: Record<string, string>): Promise<MeteredWorker> {
  const bootstrap = fileURLToPath(new URL('../../../worker/src/otel/register.mjs', import.meta.url));
  const p = spawnTs('apps/worker/src/main.ts', {
    NODE_OPTIONS: `--import ${bootstrap}`,
    TRINE_METRICS_LISTEN: '127.0.0.1:0',
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    ...env,
  });
  const metrics = await p.waitFor('metrics listening', 90_000);
  await p.waitFor('worker ready', 90_000);
  const scrape = scraper(`http://127.0.0.1:${Number(metrics.port)}/metrics`);
  const metric = async (name: string, label?: string): Promise<number> => (await scrape())(name, label);
  const jobs = async (): Promise<WorkerJobs> => {
    const value = await scrape();
    const outcome = (o: string): number => value('trine_worker_jobs_total', `outcome="${o}"`);
    return {
      started: outcome('started'),
      done: outcome('done'),
      failed: outcome('failed'),
      cancelled: outcome('cancelled'),
      expired: outcome('expired'),
      handedBack: outcome('handed_back'),
      active: value('trine_worker_active_jobs'),
    };
  };
  const settled = async (timeoutMs = 30_000): Promise<WorkerJobs> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await jobs();
      if (j.active === 0 && j.started === j.done + j.failed + j.cancelled + j.expired + j.handedBack) return j;
      if (Date.now() > deadline) throw new Error(`worker jobs did not settle: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return Object.assign(p, { jobs, settled, metric });
}
