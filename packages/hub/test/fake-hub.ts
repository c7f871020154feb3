/**
 * A local stand-in for the Hugging Face Hub, answering as huggingface.co does: model info with siblings and LFS
 * metadata, HEAD/GET on resolve with X-Repo-Commit / X-Linked-Etag / X-Linked-Size, LFS files redirected to a
 * second server on another port (the "CDN"), Range on both, and X-Error-Code on 401/404. Faults are injected per
 * blob: a connection cut mid-file, a wrong body, a slow body, 500s.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  bytes: Uint8Array;
  /** Stored in LFS: redirected to the CDN, etag = SHA-256. Otherwise served by the Hub, etag = git blob id. */
  lfs: boolean;
}

export interface FakeRepo {
  commit: string;
  /** Branches and tags → commit (main is added). */
  refs?: Record<string, string>;
  files: Record<string, FakeFile>;
  /** Needs `Authorization: Bearer <token>`; `gated` answers 403 GatedRepo to a wrong token, 401 to none. */
  token?: string;
  gated?: boolean;
}

export interface Faults {
  /** The next N body GETs of this blob send `cutAfter` bytes and then drop the connection. */
  cut?: { times: number; cutAfter: number };
  /** Serve these bytes instead of the real ones (same length): the hash will not match. */
  corrupt?: boolean;
  /** Send the body in chunks of `chunk` bytes, `delayMs` apart. */
  slow?: { chunk: number; delayMs: number };
  /** The next N requests for this blob answer 500. */
  fail500?: number;
  /** Every request for this blob answers 500. */
  always500?: boolean;
}

export interface RequestRecord {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const gitOid = (b: Uint8Array): string => createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'bad' {
  if (!header) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!m) return 'bad';
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || start > end) return 'bad';
  return { start, end };
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly faults = new Map<string, Faults>();
  readonly requests: RequestRecord[] = [];
  /** Completed or cut body sends per etag, with the byte range each started at. */
  readonly bodySends = new Map<string, number[]>();
  hubUrl = '';
  cdnUrl = '';
  private readonly hub = createServer((req, res) => void this.onHub(req, res));
  private readonly cdn = createServer((req, res) => void this.onCdn(req, res));
  private readonly blobs = new Map<string, Uint8Array>();

  async start(): Promise<this> {
    this.hubUrl = await listen(this.hub);
    this.cdnUrl = await listen(this.cdn);
    return this;
  }

  async stop(): Promise<void> {
    this.hub.closeAllConnections();
    this.cdn.closeAllConnections();
    await Promise.all([new Promise((r) => this.hub.close(r)), new Promise((r) => this.cdn.close(r))]);
  }

  addRepo(name: string, repo: FakeRepo): void {
    this.repos.set(name, repo);
    for (const f of Object.values(repo.files)) this.blobs.set(f.lfs ? sha256(f.bytes) : gitOid(f.bytes), f.bytes);
  }

  etagOf(f: FakeFile): string {
    return f.lfs ? sha256(f.bytes) : gitOid(f.bytes);
  }

  sends(f: FakeFile): number[] {
    return this.bodySends.get(this.etagOf(f)) ?? [];
  }

  private record(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({ server, method: req.method ?? '', path: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization });
  }

  /** 401/403 for protected repos; undefined when the caller may read. */
  private denied(repo: FakeRepo, req: IncomingMessage, res: ServerResponse): boolean {
    if (!repo.token) return false;
    const auth = req.headers.authorization;
    if (auth === `Bearer ${repo.token}`) return false;
    if (repo.gated && auth) {
      res.writeHead(403, { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access to model is restricted.' }).end();
    } else {
      res.writeHead(401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
    }
    return true;
  }

  private async onHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.record('hub', req);
    const url = new URL(req.url ?? '/', this.hubUrl);
    const path = decodeURIComponent(url.pathname);
    const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repoName = info?.[1] ?? resolve?.[1];
    const repo = repoName ? this.repos.get(repoName) : undefined;
    if (!repo) {
      // The Hub answers 401 for a repo that does not exist to anonymous callers, 404 otherwise.
      res.writeHead(req.headers.authorization ? 404 : 401, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
      return;
    }
    if (this.denied(repo, req, res)) return;
    const rev = (info?.[2] ?? resolve?.[2])!;
    const refs: Record<string, string> = { main: repo.commit, ...repo.refs };
    const commit = rev === repo.commit || Object.values(refs).includes(rev) ? rev : refs[rev];
    if (!commit) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': `Invalid rev id: ${rev}` }).end();
      return;
    }
    if (info) {
      const siblings = Object.entries(repo.files).map(([rfilename, f]) => ({
        rfilename, size: f.bytes.byteLength, blobId: gitOid(f.bytes),
        ...(f.lfs ? { lfs: { sha256: sha256(f.bytes), size: f.bytes.byteLength, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repoName, sha: commit, siblings }));
      return;
    }
    const file = repo.files[resolve![3]!];
    if (!file) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found', 'x-repo-commit': commit }).end();
      return;
    }
    const etag = this.etagOf(file);
    if (file.lfs) {
      res.writeHead(302, {
        location: `${this.cdnUrl}/blob/${etag}?signed=1`, 'x-repo-commit': commit, 'x-linked-etag': `"${etag}"`,
        'x-linked-size': String(file.bytes.byteLength), etag: '"not-the-content-etag"', 'content-length': '0',
      }).end();
      return;
    }
    await this.sendBody(req, res, etag, file.bytes, { 'x-repo-commit': commit, etag: `"${etag}"` });
  }

  private async onCdn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.record('cdn', req);
    const m = /^\/blob\/([0-9a-f]{64})/.exec(req.url ?? '');
    const bytes = m ? this.blobs.get(m[1]!) : undefined;
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    await this.sendBody(req, res, m![1]!, bytes, { etag: `"cdn-${m![1]!.slice(0, 8)}"` });
  }

  private async sendBody(req: IncomingMessage, res: ServerResponse, etag: string, real: Uint8Array, headers: Record<string, string>): Promise<void> {
    const fault = this.faults.get(etag) ?? {};
    if (fault.always500 || (fault.fail500 ?? 0) > 0) {
      if (fault.fail500) fault.fail500--;
      res.writeHead(500).end('boom');
      return;
    }
    let bytes = real;
    if (fault.corrupt) {
      bytes = Uint8Array.from(real);
      bytes[bytes.length >> 1]! ^= 0xff;
    }
    const range = parseRange(req.headers.range, bytes.byteLength);
    if (range === 'bad') {
      res.writeHead(416, { 'content-range': `bytes */${bytes.byteLength}` }).end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? bytes.byteLength - 1;
    const body = bytes.subarray(start, end + 1);
    res.writeHead(range ? 206 : 200, {
      ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.byteLength),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${bytes.byteLength}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.bodySends.set(etag, [...(this.bodySends.get(etag) ?? []), start]);
    if (fault.cut && fault.cut.times > 0) {
      fault.cut.times--;
      res.write(body.subarray(0, fault.cut.cutAfter));
      await new Promise((r) => setTimeout(r, 20));
      res.destroy(); // the connection drops mid-file
      return;
    }
    if (fault.slow) {
      for (let at = 0; at < body.byteLength; at += fault.slow.chunk) {
        if (res.destroyed) return;
        res.write(body.subarray(at, at + fault.slow.chunk));
        await new Promise((r) => setTimeout(r, fault.slow!.delayMs));
      }
      res.end();
      return;
    }
    res.end(body);
  }
}
