/** `trine models`: what the cache holds (Trine's pulls and Python's alike), and `trine models rm`. */
import { readFile, readdir, readlink, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { TrineError } from '@trine/core';
import { RepoCache, listFiles, repoFromFolderName } from './cache.js';
import { hfDirectoryFiles, isGguf, ternaryTypeFromHeader } from './choose.js';
import { parseHfRef } from './ref.js';
import type { HubSettings } from './settings.js';

export interface CachedModel {
  repo: string;
  commit: string;
  /** Branches and tags whose refs point at this commit. */
  revisions: string[];
  /** A GGUF file, or `*.safetensors` for a safetensors model folder. */
  file: string;
  /** The path to open (a file, or the snapshot folder). */
  path: string;
  size: number;
  /** I2_S / TQ2_0 / TQ1_0 from the header's tensors; `safetensors` for a folder; undefined when not ternary. */
  ternaryType: string | undefined;
}

async function refsByCommit(cache: RepoCache): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const refsDir = join(cache.dir, 'refs');
  for (const name of await listFiles(refsDir)) {
    const commit = (await readFile(join(refsDir, name), 'utf8').catch(() => '')).trim();
    out.set(commit, [...(out.get(commit) ?? []), name]);
  }
  return out;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined; // a dangling link: its blob was removed
  }
}

export async function listCachedModels(settings: HubSettings): Promise<CachedModel[]> {
  let folders: string[];
  try {
    folders = (await readdir(settings.cacheDir)).sort();
  } catch {
    return [];
  }
  const out: CachedModel[] = [];
  for (const folder of folders) {
    const repo = repoFromFolderName(folder);
    if (!repo) continue;
    const cache = new RepoCache(settings.cacheDir, repo);
    const refs = await refsByCommit(cache);
    const commits = await readdir(join(cache.dir, 'snapshots')).catch(() => [] as string[]);
    for (const commit of commits.sort()) {
      const dir = cache.snapshotDir(commit);
      const files = await listFiles(dir);
      const revisions = refs.get(commit) ?? [];
      for (const file of files.filter(isGguf).sort()) {
        const path = join(dir, file);
        const size = await sizeOf(path);
        if (size === undefined) continue;
        const ternaryType = await ternaryTypeFromHeader(path).catch(() => undefined);
        out.push({ repo, commit, revisions, file, path, size, ternaryType });
      }
      const hf = hfDirectoryFiles(files);
      if (hf) {
        let size = 0;
        for (const f of hf) size += (await sizeOf(join(dir, f))) ?? 0;
        out.push({ repo, commit, revisions, file: '*.safetensors', path: dir, size, ternaryType: 'safetensors' });
      }
    }
  }
  return out;
}

/** Blobs no snapshot links to any more are deleted (they would only take space). */
async function collectGarbage(cache: RepoCache): Promise<number> {
  const used = new Set<string>();
  const snapshots = join(cache.dir, 'snapshots');
  for (const file of await listFiles(snapshots)) {
    const link = join(snapshots, file);
    const target = await readlink(link).catch(() => undefined);
    if (target !== undefined) used.add(resolve(dirname(link), target));
  }
  let freed = 0;
  const blobs = join(cache.dir, 'blobs');
  for (const blob of await readdir(blobs).catch(() => [] as string[])) {
    const path = join(blobs, blob);
    if (used.has(path)) continue;
    freed += (await sizeOf(path)) ?? 0;
    await unlink(path).catch(() => undefined);
  }
  return freed;
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await listFiles(dir)) {
    const st = await stat(join(dir, f)).catch(() => undefined);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

export interface RemoveResult {
  removed: string;
  freedBytes: number;
}

/**
 * Removes `org/name` (the whole repo), `org/name@rev` (one snapshot and the refs naming it) or `org/name[@rev]/FILE`
 * (one file), then the blobs nothing links to any more.
 */
export async function removeCached(spec: string, settings: HubSettings): Promise<RemoveResult> {
  const ref = parseHfRef(spec, 'MODEL');
  const cache = new RepoCache(settings.cacheDir, ref.repo);
  if (!(await stat(cache.dir).catch(() => undefined))) throw new TrineError('NOT_FOUND', `${ref.repo} is not in the cache (${settings.cacheDir})`, { field: 'MODEL' });
  if (ref.revision === undefined && ref.file === undefined) {
    const freedBytes = await dirSize(join(cache.dir, 'blobs'));
    await cache.removeAll();
    return { removed: ref.repo, freedBytes };
  }
  const snapshots = join(cache.dir, 'snapshots');
  let commits: string[];
  if (ref.revision !== undefined) {
    const commit = await cache.commitFor(ref.revision);
    if (commit === undefined || !(await stat(cache.snapshotDir(commit)).catch(() => undefined))) {
      throw new TrineError('NOT_FOUND', `${ref.repo}@${ref.revision} is not in the cache`, { field: 'MODEL' });
    }
    commits = [commit];
  } else {
    commits = await readdir(snapshots).catch(() => [] as string[]);
  }
  let hit = false;
  for (const commit of commits) {
    if (ref.file === undefined) {
      await rm(cache.snapshotDir(commit), { recursive: true, force: true });
      const refs = await refsByCommit(cache);
      for (const name of refs.get(commit) ?? []) await unlink(cache.refPath(name)).catch(() => undefined);
      hit = true;
    } else {
      const path = cache.snapshotPath(commit, ref.file);
      if (await readlink(path).catch(() => stat(path).catch(() => undefined))) {
        await unlink(path);
        hit = true;
      }
    }
  }
  const what = `${ref.repo}${ref.revision ? `@${ref.revision}` : ''}${ref.file ? `/${ref.file}` : ''}`;
  if (!hit) throw new TrineError('NOT_FOUND', `${what} is not in the cache`, { field: 'MODEL' });
  const freedBytes = await collectGarbage(cache);
  if ((await listFiles(snapshots)).length === 0) await cache.removeAll();
  return { removed: what, freedBytes };
}
