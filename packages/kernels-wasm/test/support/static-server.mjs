// Trine in a browser as plain ESM, shared by the browser tests (kernels-wasm, kernels-webgpu), the wasm kernel bench's
// --browser mode and apps/web: a static server on 127.0.0.1 with COOP/COEP so a page is cross-origin isolated
// (SharedArrayBuffer → wasm threads; ?isolated=0 turns that off), and the mounts and import map under which the
// packages' built dist/ files and the third-party ESM files core needs load without a bundler.
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

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The packages' dist/, @huggingface/jinja and @opentelemetry/api (core's dependencies) and the Node built-in stub. */
export function distMounts() {
  const coreRequire = createRequire(join(packages, 'core', 'package.json'));
  const jinja = dirname(dirname(coreRequire.resolve('@huggingface/jinja'))); // …/jinja/dist/index.cjs → package root
  const otelApi = dirname(dirname(coreRequire.resolve('@opentelemetry/api'))); // core's engine spans (no-ops without an SDK)
  return {
    '/pkg/core/dist/': join(packages, 'core', 'dist') + sep,
    '/pkg/kernels-wasm/dist/': join(packages, 'kernels-wasm', 'dist') + sep,
    '/pkg/kernels-webgpu/dist/': join(packages, 'kernels-webgpu', 'dist') + sep,
    '/vendor/jinja/': jinja + sep,
    '/vendor/otel-api/': otelApi + sep,
    '/shims/': join(packages, 'kernels-wasm', 'test', 'support', 'shims') + sep,
  };
}

/**
 * The import map for `distMounts()`: bare specifiers resolve to the built dist/ files; Node built-ins that core only
 * touches in Node code paths map to a stub that fails loudly if called.
 */
export function importMapScript() {
  const imports = {
    '@trine/core': '/pkg/core/dist/index.js',
    '@trine/kernels-wasm': '/pkg/kernels-wasm/dist/index.js',
    '@trine/kernels-webgpu': '/pkg/kernels-webgpu/dist/index.js',
    '@huggingface/jinja': '/vendor/jinja/dist/index.js',
    '@opentelemetry/api': '/vendor/otel-api/dist/index.mjs',
    path: '/shims/node-builtin.js',
    'node:path': '/shims/node-builtin.js',
  };
  return `<script type="importmap">\n${JSON.stringify({ imports }, null, 2)}\n</script>`;
}
