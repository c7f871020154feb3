/**
 * The huggingface_hub cache layout, so Python tools and Trine share one cache:
 *
 *   {cacheDir}/models--org--name/
 *     blobs/<etag>                      file contents, named by the Hub's etag (LFS: the SHA-256; else the git blob id)
 *     snapshots/<commit>/<file>         relative symlink → ../../blobs/<etag> (one more ../ per folder in <file>)
 *     refs/<revision>                   the commit a branch or tag pointed to when last resolved
 *   {cacheDir}/.locks/models--org--name/<etag>.lock   (huggingface_hub's lock files; Trine's are <etag>.trine-lock)
 */
import { mkdir, readFile, readdir, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { TrineError } from '@trine/core';
import { checkRepoFile, isCommitHash } from './ref.js';

export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

export function repoFromFolderName(folder: string): string | undefined {
  if (!folder.startsWith('models--')) return undefined;
  return folder.slice('models--'.length).split('--').join('/');
}

/** Every file below `dir` (links included) as a `/`-separated relative path; none when `dir` does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)).split('\\').join('/'));
  } catch {
    return [];
  }
}

export class RepoCache {
  readonly dir: string;
  constructor(readonly cacheDir: string, readonly repo: string) {
    this.dir = join(cacheDir, repoFolderName(repo));
  }
  blobPath(etag: string): string {
    return join(this.dir, 'blobs', etag);
  }
  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }
  lockPath(etag: string): string {
    return join(this.cacheDir, '.locks', repoFolderName(this.repo), `${etag}.trine-lock`);
  }
  snapshotDir(commit: string): string {
    return join(this.dir, 'snapshots', commit);
  }
  snapshotPath(commit: string, file: string): string {
    return join(this.snapshotDir(commit), checkRepoFile(file));
  }
  refPath(revision: string): string {
    return join(this.dir, 'refs', revision);
  }

  /** The commit a revision resolves to offline: itself when it is a commit id, else what refs/<revision> holds. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = (await readFile(this.refPath(revision), 'utf8')).trim();
      return isCommitHash(commit) ? commit : undefined;
    } catch {
      return undefined; // never resolved online: nothing cached for this revision
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = this.refPath(revision);
    await mkdir(dirname(path), { recursive: true });
    // Written whole then renamed, so a reader never sees a half-written commit id.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, commit);
    await rename(tmp, path);
  }

  /** Points snapshots/<commit>/<file> at blobs/<etag> with a relative link, as huggingface_hub does. */
  async linkSnapshot(commit: string, file: string, etag: string): Promise<string> {
    const path = this.snapshotPath(commit, file);
    await mkdir(dirname(path), { recursive: true });
    const target = relative(dirname(path), this.blobPath(etag));
    try {
      if ((await readlink(path)) === target) return path;
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINVAL') await unlink(path); // a plain file (copied cache): replace it
      else if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      await symlink(target, path);
    } catch (e) {
      // Another process linked the same file first; its link points at the same blob.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return path;
  }

  /** The cached file for (commit, file), or undefined when absent or its blob is missing. */
  async cachedFile(commit: string, file: string): Promise<string | undefined> {
    const path = this.snapshotPath(commit, file);
    try {
      return (await stat(path)).isFile() ? path : undefined;
    } catch {
      return undefined;
    }
  }

  async removeAll(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await rm(join(this.cacheDir, '.locks', repoFolderName(this.repo)), { recursive: true, force: true });
  }
}

/** Turns a filesystem failure while writing into one clear line; a full disk gets its own code. */
export function writeError(path: string, e: unknown): TrineError {
  if (TrineError.is(e)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new TrineError('DISK_FULL', `no space left on the device while writing ${path}: free some space or point HF_HUB_CACHE elsewhere`, { field: 'HF_HUB_CACHE', cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new TrineError('INVALID_ARGUMENT', `cannot write ${path} (${code}): the cache folder is not writable; set HF_HUB_CACHE to a writable folder`, { field: 'HF_HUB_CACHE', cause: e });
  }
  return new TrineError('UNAVAILABLE', `writing ${path} failed: ${(e as Error).message}`, { cause: e });
}
