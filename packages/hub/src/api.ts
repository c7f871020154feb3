/** The two Hub endpoints a pull needs: model info (file list + commit) and a file's metadata (HEAD on resolve). */
import { TrineError } from '@trine/core';
import { type HubHttp, RetriableError, type RequestContext } from './http.js';
import { checkRepoFile, isCommitHash } from './ref.js';

export interface Sibling {
  /** Path inside the repo. */
  file: string;
  size: number | undefined;
  /** LFS files: the SHA-256 and size of the content. */
  lfs: { sha256: string; size: number } | undefined;
}

export interface RepoInfo {
  /** The commit the revision resolved to. */
  commit: string;
  siblings: Sibling[];
}

export interface FileMetadata {
  /** The blob name: X-Linked-Etag (LFS: the SHA-256) or ETag (the git blob id), unquoted. */
  etag: string;
  /** X-Repo-Commit, when sent. */
  commit: string | undefined;
  /** X-Linked-Size or Content-Length. */
  size: number | undefined;
  /** Where the bytes are: the redirect target (a CDN) or the resolve URL itself. */
  location: string;
}

/** Repos with more files than this are refused (a model repo has tens). */
const MAX_SIBLINGS = 100_000;

function malformed(ctx: RequestContext, problem: string): TrineError {
  return new TrineError('UNAVAILABLE', `${ctx.repo}: the Hub's model info is malformed: ${problem}`, { field: 'siblings' });
}

function sizeField(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

export async function repoInfo(http: HubHttp, repo: string, revision: string): Promise<RepoInfo> {
  const ctx = { repo, revision };
  const json = await http.getJson(`/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`, ctx) as Record<string, unknown>;
  if (typeof json !== 'object' || json === null) throw malformed(ctx, 'not an object');
  const commit = json.sha;
  if (typeof commit !== 'string' || !isCommitHash(commit)) throw malformed(ctx, `sha is not a commit id`);
  const raw = json.siblings;
  if (!Array.isArray(raw)) throw malformed(ctx, 'no siblings list');
  if (raw.length > MAX_SIBLINGS) throw malformed(ctx, `${raw.length} files`);
  const siblings: Sibling[] = [];
  for (const s of raw as Array<Record<string, unknown>>) {
    if (typeof s?.rfilename !== 'string') throw malformed(ctx, 'a sibling without rfilename');
    const file = checkRepoFile(s.rfilename, 'rfilename');
    const lfsRaw = s.lfs as Record<string, unknown> | undefined;
    let lfs: Sibling['lfs'];
    if (lfsRaw && typeof lfsRaw === 'object') {
      const sha256 = typeof lfsRaw.sha256 === 'string' ? lfsRaw.sha256.toLowerCase() : '';
      const size = sizeField(lfsRaw.size);
      if (!/^[0-9a-f]{64}$/.test(sha256) || size === undefined) throw malformed(ctx, `${file}: bad lfs metadata`);
      lfs = { sha256, size };
    }
    siblings.push({ file, size: sizeField(s.size) ?? lfs?.size, lfs });
  }
  return { commit, siblings };
}

/** huggingface_hub's etag normalisation: drop a weak `W/` and the quotes. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

export function resolveUrl(http: HubHttp, repo: string, revision: string, file: string): string {
  return http.url(`/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`);
}

/** HEAD on the resolve URL, reading the Hub's headers before any redirect to another host (as huggingface_hub does). */
export async function fileMetadata(http: HubHttp, repo: string, revision: string, file: string): Promise<FileMetadata> {
  const ctx = { repo, revision, file };
  return http.withRetry(ctx, async () => {
    const { res, url } = await http.send('HEAD', resolveUrl(http, repo, revision, file), ctx, { 'accept-encoding': 'identity' }, true);
    const h = res.headers;
    const rawEtag = h.get('x-linked-etag') ?? h.get('etag');
    if (!rawEtag) throw new RetriableError(`no ETag for ${file} (a proxy may be stripping headers)`);
    const etag = normalizeEtag(rawEtag);
    // The etag becomes a file name in the cache: only the hex digests the Hub sends are accepted.
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) throw new TrineError('UNAVAILABLE', `${repo}/${file}: unexpected ETag '${rawEtag}'`, { field: 'etag' });
    const commitHeader = h.get('x-repo-commit') ?? undefined;
    const size = Number(h.get('x-linked-size') ?? h.get('content-length') ?? NaN);
    return {
      etag,
      commit: commitHeader && isCommitHash(commitHeader) ? commitHeader : undefined,
      size: Number.isSafeInteger(size) && size >= 0 ? size : undefined,
      location: url,
    };
  });
}
