/**
 * A tiny static server for browser tests and the demo: files from a few directories (by URL prefix) plus in-memory
 * files, on 127.0.0.1. Documents get COOP/COEP (cross-origin isolation, so SharedArrayBuffer and threads work)
 * unless the URL says ?isolated=0.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.gguf': 'application/octet-stream',
  '.css': 'text/css',
  '.map': 'application/json',
};

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveStatic(
  mounts: Record<string, string>,
  memory: Record<string, string | Uint8Array> = {},
): Promise<StaticServer> {
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const isolated = url.searchParams.get('isolated') !== '0';
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const path = decodeURIComponent(url.pathname);
    try {
      let body: string | Uint8Array | undefined = memory[path];
      if (body === undefined) {
        const prefix = Object.keys(mounts)
          .filter((p) => path.startsWith(p))
          .sort((a, b) => b.length - a.length)[0];
        if (prefix === undefined) throw new Error('not found');
        const root = mounts[prefix]!;
        const file = normalize(join(root, path.slice(prefix.length)));
        if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) throw new Error('outside root');
        body = await readFile(file);
      }
      const type = path.endsWith('/') ? TYPES['.html'] : TYPES[extname(path)];
      res.writeHead(200, { ...headers, 'Content-Type': type ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
