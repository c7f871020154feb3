// The demo's static server: `pnpm --filter @trine/kernels-wasm demo [port]` then open the printed URL.
// Serves the page, the packages' built dist/ files and the one third-party ESM file core needs, on 127.0.0.1,
// with COOP/COEP so the page is cross-origin isolated (SharedArrayBuffer → wasm threads); ?isolated=0 turns that off.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.map': 'application/json',
};

/** Serve directories by URL prefix plus in-memory files; resolves to { url, close }. */
export async function serveStatic(mounts, memory = {}, port = 0) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers = { 'Cache-Control': 'no-store' };
    if (url.searchParams.get('isolated') !== '0') {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const path = decodeURIComponent(url.pathname);
    try {
      let body = memory[path];
      if (body === undefined) {
        const prefix = Object.keys(mounts)
          .filter((p) => path.startsWith(p))
          .sort((a, b) => b.length - a.length)[0];
        if (prefix === undefined) throw new Error('not found');
        const root = mounts[prefix];
        let file = normalize(join(root, path.slice(prefix.length)));
        if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) throw new Error('outside root');
        if (path.endsWith('/')) file = join(file, 'index.html');
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
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the demo page needs: itself, core's and this package's dist/, @huggingface/jinja and @opentelemetry/api (core's dependencies). */
export function demoMounts() {
  const coreRequire = createRequire(join(pkg, '..', 'core', 'package.json'));
  const jinja = dirname(dirname(coreRequire.resolve('@huggingface/jinja'))); // …/jinja/dist/index.cjs → package root
  const otelApi = dirname(dirname(coreRequire.resolve('@opentelemetry/api'))); // core's engine spans (no-ops without an SDK)
  return {
    '/demo/': join(pkg, 'demo') + sep,
    '/pkg/core/dist/': join(pkg, '..', 'core', 'dist') + sep,
    '/pkg/kernels-wasm/dist/': join(pkg, 'dist') + sep,
    '/pkg/kernels-webgpu/dist/': join(pkg, '..', 'kernels-webgpu', 'dist') + sep,
    '/vendor/jinja/': jinja + sep,
    '/vendor/otel-api/': otelApi + sep,
  };
}

export function serveDemo(port = 0) {
  return serveStatic(demoMounts(), { '/': '<!doctype html><meta http-equiv="refresh" content="0; url=/demo/">' }, port);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const s = await serveDemo(Number(process.argv[2] ?? 8080));
  console.log(`Trine demo: ${s.url}/demo/  (needs pnpm build first; ?isolated=0 for the single-thread fallback)`);
}
