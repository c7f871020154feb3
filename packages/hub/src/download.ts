/**
 * One blob from the Hub into the cache: written to blobs/<etag>.incomplete, resumed with Range after a cut,
 * checked (SHA-256 for LFS files, the git blob id otherwise), then renamed to blobs/<etag>. A file that fails its
 * check is deleted, never linked.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, truncate, unlink } from 'node:fs/promises';
import { TrineError } from '@trine/core';
import { writeError } from './cache.js';
import { type HubHttp, type RequestContext, RetriableError } from './http.js';

export interface BlobExpectation {
  /** Bytes the Hub states for the file, when it states them. */
  size: number | undefined;
  /** LFS files: the SHA-256 (hex) the Hub states. */
  sha256: string | undefined;
  /** Non-LFS files: the git blob id (sha1 of "blob <size>\0" + bytes), the Hub's etag for them. */
  gitOid: string | undefined;
}

export interface ByteProgress {
  done: number;
  total: number | undefined;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Hex digest of a file on disk, streamed; `gitPrefix` hashes it as a git blob. */
async function fileDigest(path: string, algorithm: 'sha256' | 'sha1', gitPrefix?: number): Promise<string> {
  const h = createHash(algorithm);
  if (gitPrefix !== undefined) h.update(`blob ${gitPrefix}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The start offset a 206 answer says it sends, from `Content-Range: bytes START-END/TOTAL`. */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Reads a body into the file, cutting the connection when it sends nothing for `idleMs`. */
async function receive(res: Response, path: string, append: boolean, start: number, idleMs: number, abort: AbortController,
  onBytes: (done: number) => void): Promise<number> {
  let done = start;
  let fh;
  try {
    fh = await open(path, append ? 'a' : 'w');
  } catch (e) {
    throw writeError(path, e);
  }
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
  };
  try {
    arm();
    const reader = res.body!.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        const reason = abort.signal.aborted ? String((abort.signal.reason as Error).message) : (e as Error).message;
        throw new RetriableError(`the connection was cut after ${done} bytes (${reason})`, e);
      }
      if (chunk.done) break;
      arm();
      try {
        await fh.write(chunk.value);
      } catch (e) {
        await reader.cancel().catch(() => undefined);
        throw writeError(path, e);
      }
      done += chunk.value.byteLength;
      onBytes(done);
    }
  } finally {
    clearTimeout(idle);
    await fh.close().catch(() => undefined);
  }
  return done;
}

export async function downloadBlob(http: HubHttp, url: string, ctx: RequestContext, expect: BlobExpectation,
  incompletePath: string, blobPath: string, onProgress?: (p: ByteProgress) => void): Promise<void> {
  await http.withRetry(ctx, async () => {
    let have = await sizeOf(incompletePath);
    if (expect.size !== undefined && have > expect.size) {
      await truncate(incompletePath, 0);
      have = 0;
    }
    if (expect.size !== undefined && have === expect.size) return; // complete from an earlier run: only the check is left
    const abort = new AbortController();
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const { res } = await http.send('GET', url, ctx, headers, false, abort.signal);
    let append = false;
    if (res.status === 206 && rangeStart(res) === have) append = true;
    else have = 0; // the server ignored the Range (200) or answered another one: start over
    onProgress?.({ done: have, total: expect.size });
    const done = await receive(res, incompletePath, append, have, http.idleTimeoutMs, abort, (d) => onProgress?.({ done: d, total: expect.size }));
    if (expect.size !== undefined && done < expect.size) throw new RetriableError(`the connection was cut after ${done} of ${expect.size} bytes`);
  });
  await verify(incompletePath, expect, ctx);
  try {
    await rename(incompletePath, blobPath);
  } catch (e) {
    throw writeError(blobPath, e);
  }
}

async function verify(path: string, expect: BlobExpectation, ctx: RequestContext): Promise<void> {
  const size = await sizeOf(path);
  let problem: string | undefined;
  if (expect.size !== undefined && size !== expect.size) problem = `${size} bytes, the Hub states ${expect.size}`;
  else if (expect.sha256 !== undefined) {
    const got = await fileDigest(path, 'sha256');
    if (got !== expect.sha256) problem = `SHA-256 ${got}, the Hub states ${expect.sha256}`;
  } else if (expect.gitOid !== undefined) {
    const got = await fileDigest(path, 'sha1', size);
    if (got !== expect.gitOid) problem = `git blob id ${got}, the Hub states ${expect.gitOid}`;
  }
  if (problem === undefined) return;
  await unlink(path).catch(() => undefined);
  throw new TrineError('CHECKSUM_MISMATCH', `${ctx.repo}/${ctx.file ?? ''}: the downloaded file has ${problem}; it was deleted (pull again; if it repeats, the mirror or a proxy is serving bad data)`, { field: 'sha256' });
}
