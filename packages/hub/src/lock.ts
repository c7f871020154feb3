/**
 * One process downloads a blob; the others wait for it. The lock is a file created with O_EXCL (works on shared
 * volumes where flock does not), holding who took it; its holder touches it every few seconds, so a lock whose
 * holder died goes stale and is taken over: at once when the holder was a dead process on this host, after
 * `staleMs` without a touch otherwise.
 */
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface LockOptions {
  /** A lock untouched this long is stale (default 30 s; the holder touches it every staleMs / 4). */
  staleMs?: number;
  /** How often a waiter looks again (default 250 ms). */
  pollMs?: number;
  /** Called once when this process has to wait for another. */
  onWait?: (holder: string) => void;
  signal?: AbortSignal;
}

interface Holder {
  pid: number;
  host: string;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host } : undefined;
  } catch {
    return undefined;
  }
}

function deadOnThisHost(h: Holder | undefined): boolean {
  if (!h || h.host !== hostname()) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Moves a stale lock aside, then deletes it, unless it turned out to be a fresh lock taken meanwhile. */
async function breakStale(path: string, seen: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke it first
  }
  const now = await readFile(aside, 'utf8').catch(() => '');
  if (now !== seen) await link(aside, path).catch(() => undefined); // a live lock: put it back
  await unlink(aside).catch(() => undefined);
}

export type Release = () => Promise<void>;

export async function acquireLock(path: string, options: LockOptions = {}): Promise<Release> {
  const staleMs = options.staleMs ?? 30_000;
  const pollMs = options.pollMs ?? 250;
  await mkdir(dirname(path), { recursive: true });
  const me = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(me);
      await fh.close();
      const beat = setInterval(() => {
        const t = new Date();
        utimes(path, t, t).catch(() => undefined);
      }, Math.max(50, staleMs / 4));
      beat.unref();
      return async () => {
        clearInterval(beat);
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text: string;
    let mtime: number;
    try {
      text = await readFile(path, 'utf8');
      mtime = (await stat(path)).mtimeMs;
    } catch {
      continue; // released between open and read: try again at once
    }
    const holder = parseHolder(text);
    if (deadOnThisHost(holder) || Date.now() - mtime > staleMs) {
      await breakStale(path, text);
      continue;
    }
    if (!waited) options.onWait?.(holder ? `process ${holder.pid} on ${holder.host}` : 'another process');
    waited = true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
