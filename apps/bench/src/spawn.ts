/** Runs one job in a fresh Node process (built .js as is; from sources through tsx's loader) and reads its answer. */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ANSWER_MARK, type Job, type JobAnswer } from './jobs.js';

function entry(): { file: string; nodeArgs: string[]; env: NodeJS.ProcessEnv } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    // From sources: tsx, with workspace packages mapped to their src (tsconfig.sources.json), like vitest's aliases.
    const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const tsconfig = fileURLToPath(new URL('../tsconfig.sources.json', import.meta.url));
    return { file: here.replace(/spawn\.ts$/, 'main.ts'), nodeArgs: ['--import', loader], env: { TSX_TSCONFIG_PATH: tsconfig } };
  }
  // Built: tsup bundles everything into dist/main.js (this module included).
  return { file: here, nodeArgs: [], env: {} };
}

export function runInChild(job: Job, opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<JobAnswer> {
  const { file, nodeArgs, env } = entry();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, file, '__child', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, ...opts.env },
    });
    let out = '';
    let err = '';
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const fail = (reason: string): void => resolve({ results: [], skipped: [{ what: describe(job), reason }] });
    child.on('error', (e) => { clearTimeout(timer); fail(e.message); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(ANSWER_MARK));
      if (line) {
        try {
          return resolve(JSON.parse(line.slice(ANSWER_MARK.length)) as JobAnswer);
        } catch (e) {
          return fail(`unreadable answer: ${String(e)}`);
        }
      }
      if (killed) return fail(`timed out after ${Math.round(opts.timeoutMs / 1000)} s`);
      fail(`child exited ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    });
  });
}

export function describe(job: Job): string {
  switch (job.kind) {
    case 'model':
      return `${job.backend} ${job.shape} ${job.threads}t${job.lmHead === 'q8' ? ' q8-lm-head' : ''}`;
    case 'batched':
      return `${job.backend} ${job.shape} ${job.threads}t batched ${job.batches.join('/')}`;
    case 'kernel':
      return `${job.backend} kernels ${job.threads}t`;
    case 'bandwidth':
      return `read bandwidth ${job.threads}t`;
    case 'serving':
      return `serving ${job.backend} ${job.shape} ${job.threads}t concurrency ${job.concurrency.join('/')}`;
    case 'constrain':
      return `constrained decoding masks (${job.vocab} vocabulary)`;
    case 'reuse':
      return `reuse (prefix cache, prompt lookup) ${job.backend} ${job.shape} ${job.threads}t`;
  }
}
