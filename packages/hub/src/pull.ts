/**
 * `pull`: resolve a repo revision to a commit, choose its files, fetch each into the shared cache (once, even
 * with several processes pulling), and return the local path to open. Offline (HF_HUB_OFFLINE), or when the Hub
 * cannot be reached, the cache alone answers.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TrineError } from '@trine/core';
import { type Sibling, fileMetadata, repoInfo, resolveUrl } from './api.js';
import { RepoCache, listFiles } from './cache.js';
import { type GgufChoice, RangeByteSource, chooseGguf, hfDirectoryFiles, isGguf, ternaryTypeFromHeader } from './choose.js';
import { downloadBlob } from './download.js';
import { HubHttp, type HttpOptions, RetriableError } from './http.js';
import { acquireLock } from './lock.js';
import { DEFAULT_REVISION, type HfRef, formatHfRef, isHfRef, parseHfRef } from './ref.js';
import { type HubSettings, hubSettings } from './settings.js';

export type PullEvent =
  | { kind: 'picked'; file: string; type: string; by: 'name' | 'header' }
  | { kind: 'start'; file: string; size: number | undefined; cached: boolean }
  | { kind: 'progress'; file: string; done: number; total: number | undefined }
  | { kind: 'done'; file: string; size: number }
  | { kind: 'waiting'; file: string; holder: string }
  | { kind: 'log'; line: string };

export interface PullOptions extends Omit<HttpOptions, 'settings' | 'log'> {
  /** Defaults to the environment (hubSettings()). */
  settings?: HubSettings;
  /** One file instead of the chosen ones (`--file`). */
  file?: string;
  /** A lock untouched this long is taken over (default 30 s). */
  lockStaleMs?: number;
  onEvent?: (e: PullEvent) => void;
}

export interface PulledFile {
  file: string;
  /** The snapshot path (a link into blobs/). */
  path: string;
  size: number;
  /** False when the cache already held it. */
  downloaded: boolean;
}

export interface PullResult {
  repo: string;
  revision: string;
  commit: string;
  files: PulledFile[];
  /** What to open: the chosen GGUF, the one file asked for, or the snapshot folder of a safetensors model. */
  modelPath: string;
  picked: GgufChoice | undefined;
  /** True when the Hub was not asked (offline, or unreachable and the cache had the files). */
  fromCache: boolean;
}

interface Plan {
  files: string[];
  picked: GgufChoice | undefined;
  /** The model is a folder (safetensors) rather than one file. */
  directory: boolean;
}

async function plan(repo: string, files: readonly string[], wanted: string | undefined,
  readType: (file: string) => Promise<GgufChoice['type'] | undefined>): Promise<Plan> {
  if (wanted !== undefined) {
    if (!files.includes(wanted)) {
      const hint = files.filter(isGguf).slice(0, 8).join(', ');
      throw new TrineError('NOT_FOUND', `${repo}: file '${wanted}' not found${hint ? ` (GGUF files: ${hint})` : ''}`, { field: 'file' });
    }
    return { files: [wanted], picked: undefined, directory: false };
  }
  if (files.some(isGguf)) {
    const picked = await chooseGguf(repo, files, readType);
    return { files: [picked.file], picked, directory: false };
  }
  const dir = hfDirectoryFiles(files);
  if (dir) return { files: dir, picked: undefined, directory: true };
  throw new TrineError('UNSUPPORTED', `${repo}: neither a GGUF repo nor a safetensors model (config.json + *.safetensors); name a file with --file`, { field: 'repo' });
}

/** Reads exactly `length` bytes of a body, refusing one that sends more (the buffer is sized by the request). */
async function readExact(res: Response, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const reader = res.body!.getReader();
  for (;;) {
    let r: ReadableStreamReadResult<Uint8Array>;
    try {
      r = await reader.read();
    } catch (e) {
      throw new RetriableError(`the connection was cut while reading ${what}`, e);
    }
    if (r.done) break;
    if (at + r.value.byteLength > length) {
      await reader.cancel();
      throw new TrineError('UNAVAILABLE', `${what}: the server sent more than the ${length} bytes asked for (Range ignored)`);
    }
    out.set(r.value, at);
    at += r.value.byteLength;
  }
  if (at < length) throw new RetriableError(`${what}: ${at} of ${length} bytes before the connection closed`);
  return out;
}

export class Puller {
  readonly settings: HubSettings;
  private readonly http: HubHttp;

  constructor(private readonly options: PullOptions = {}) {
    this.settings = options.settings ?? hubSettings();
    this.http = new HubHttp({ ...options, settings: this.settings, log: (line) => this.emit({ kind: 'log', line }) });
  }

  private emit(e: PullEvent): void {
    this.options.onEvent?.(e);
  }

  async pull(refIn: HfRef | string): Promise<PullResult> {
    const ref = typeof refIn === 'string' ? parseHfRef(refIn) : refIn;
    const revision = ref.revision ?? DEFAULT_REVISION;
    const wanted = this.options.file ?? ref.file;
    const cache = new RepoCache(this.settings.cacheDir, ref.repo);
    if (this.settings.offline) return this.fromCache(cache, ref.repo, revision, wanted, 'HF_HUB_OFFLINE is set');
    let info;
    try {
      info = await repoInfo(this.http, ref.repo, revision);
    } catch (e) {
      // A worker restarting while the Hub is down still serves what the cache holds, as huggingface_hub does.
      if (TrineError.is(e, 'UNAVAILABLE') && (await cache.commitFor(revision)) !== undefined) {
        this.emit({ kind: 'log', line: `${e.message}; using the cached snapshot` });
        return this.fromCache(cache, ref.repo, revision, wanted, e.message);
      }
      throw e;
    }
    const { commit } = info;
    const byFile = new Map(info.siblings.map((s) => [s.file, s]));
    const p = await plan(ref.repo, info.siblings.map((s) => s.file), wanted, (file) => this.remoteType(ref.repo, commit, byFile.get(file)!));
    if (p.picked) this.emit({ kind: 'picked', file: p.picked.file, type: p.picked.type, by: p.picked.by });
    const files: PulledFile[] = [];
    for (const file of p.files) files.push(await this.fetchFile(cache, ref.repo, commit, byFile.get(file)!));
    await cache.writeRef(revision, commit);
    return {
      repo: ref.repo, revision, commit, files, picked: p.picked, fromCache: false,
      modelPath: p.directory ? cache.snapshotDir(commit) : files[0]!.path,
    };
  }

  private async fromCache(cache: RepoCache, repo: string, revision: string, wanted: string | undefined, why: string): Promise<PullResult> {
    const commit = await cache.commitFor(revision);
    const missing = (what: string): TrineError => new TrineError('NOT_FOUND',
      `${why}, and ${what} is not in the cache (${this.settings.cacheDir}); pull it once with a network (trine pull ${repo}${revision === DEFAULT_REVISION ? '' : `@${revision}`})`,
      { field: 'HF_HUB_OFFLINE' });
    if (commit === undefined) throw missing(`${repo}@${revision}`);
    const present = await listFiles(cache.snapshotDir(commit));
    if (present.length === 0) throw missing(`${repo}@${revision}`);
    const p = await plan(repo, present, wanted, async (file) => ternaryTypeFromHeader(cache.snapshotPath(commit, file))).catch((e: unknown) => {
      if (TrineError.is(e, 'NOT_FOUND') && wanted !== undefined) throw missing(`${repo}@${revision}/${wanted}`);
      throw e;
    });
    if (p.picked) this.emit({ kind: 'picked', file: p.picked.file, type: p.picked.type, by: p.picked.by });
    const files: PulledFile[] = [];
    for (const file of p.files) {
      const path = await cache.cachedFile(commit, file);
      if (!path) throw missing(`${repo}@${revision}/${file}`);
      const { size } = await stat(path);
      files.push({ file, path, size, downloaded: false });
    }
    return { repo, revision, commit, files, picked: p.picked, fromCache: true, modelPath: p.directory ? cache.snapshotDir(commit) : files[0]!.path };
  }

  /** The ternary type of a remote GGUF, from its header read with Range requests (a few hundred KiB at most). */
  private async remoteType(repo: string, commit: string, sibling: Sibling): Promise<GgufChoice['type'] | undefined> {
    const meta = await fileMetadata(this.http, repo, commit, sibling.file);
    const size = meta.size ?? sibling.size;
    if (size === undefined) return undefined;
    const ctx = { repo, revision: commit, file: sibling.file };
    const source = new RangeByteSource(sibling.file, size, (offset, length) => this.http.withRetry(ctx, async () => {
      const { res } = await this.http.send('GET', meta.location, ctx, { range: `bytes=${offset}-${offset + length - 1}`, 'accept-encoding': 'identity' });
      if (res.status !== 206) {
        await res.body?.cancel();
        throw new TrineError('UNAVAILABLE', `${repo}/${sibling.file}: the server does not answer Range requests; name the file with --file`);
      }
      return readExact(res, length, sibling.file);
    }));
    try {
      return await ternaryTypeFromHeader(source);
    } catch (e) {
      if (TrineError.is(e, 'INVALID_MODEL_FILE') || TrineError.is(e, 'UNSUPPORTED')) return undefined; // not a GGUF Trine reads
      throw e;
    }
  }

  private async fetchFile(cache: RepoCache, repo: string, commit: string, sibling: Sibling): Promise<PulledFile> {
    const file = sibling.file;
    const cached = await cache.cachedFile(commit, file);
    if (cached) {
      const { size } = await stat(cached);
      this.emit({ kind: 'start', file, size, cached: true });
      return { file, path: cached, size, downloaded: false };
    }
    const meta = await fileMetadata(this.http, repo, commit, file);
    const size = sibling.lfs?.size ?? meta.size ?? sibling.size;
    const expect = {
      size,
      sha256: sibling.lfs?.sha256 ?? (meta.etag.length === 64 ? meta.etag : undefined),
      gitOid: sibling.lfs ? undefined : (meta.etag.length === 40 ? meta.etag : undefined),
    };
    const blob = cache.blobPath(meta.etag);
    let downloaded = false;
    if (!(await exists(blob))) {
      const release = await acquireLock(cache.lockPath(meta.etag), {
        staleMs: this.options.lockStaleMs,
        onWait: (holder) => this.emit({ kind: 'waiting', file, holder }),
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      }).catch((e: unknown) => {
        throw TrineError.is(e) ? e : new TrineError('UNAVAILABLE', `cannot take the download lock in ${cache.cacheDir}: ${(e as Error).message}`, { cause: e });
      });
      try {
        // The process that held the lock may have finished this blob meanwhile.
        if (!(await exists(blob))) {
          this.emit({ kind: 'start', file, size, cached: false });
          const ctx = { repo, revision: commit, file };
          await mkdir(join(cache.dir, 'blobs'), { recursive: true });
          await downloadBlob(this.http, meta.location, ctx, expect, cache.incompletePath(meta.etag), blob,
            (p) => this.emit({ kind: 'progress', file, done: p.done, total: p.total }));
          downloaded = true;
        }
      } finally {
        await release();
      }
    } else {
      this.emit({ kind: 'start', file, size, cached: true });
    }
    const path = await cache.linkSnapshot(commit, file, meta.etag);
    const finalSize = (await stat(path)).size;
    if (downloaded) this.emit({ kind: 'done', file, size: finalSize });
    return { file, path, size: finalSize, downloaded };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export function pull(ref: HfRef | string, options: PullOptions = {}): Promise<PullResult> {
  return new Puller(options).pull(ref);
}

/**
 * Where a model named anywhere (--model, TRINE_MODEL) is on disk: `hf:` names are pulled (or found in the cache
 * offline); anything else is a local path and passes through unchanged.
 */
export async function resolveModelPath(spec: string, options: PullOptions = {}): Promise<string> {
  if (!isHfRef(spec)) return spec;
  const result = await pull(parseHfRef(spec), options);
  options.onEvent?.({ kind: 'log', line: `${formatHfRef({ repo: result.repo, revision: result.revision, file: undefined })} → ${result.modelPath}` });
  return result.modelPath;
}
