// `pnpm --filter @trine/web start [port]` (after `pnpm build`), then open the printed URL: the page at /, the
// packages' built dist/ files beside it, cross-origin isolated unless ?isolated=0 (then wasm runs on one thread).
import { readFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distMounts, importMapScript, serveStatic } from '../../packages/kernels-wasm/test/support/static-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const page = join(here, 'page') + sep;
// Core's embedded default model (the trained one), fetched by the page: a browser has no file system to read it from.
const models = join(here, '..', '..', 'packages', 'core', 'assets') + sep;

/** Serves the page on 127.0.0.1 (port 0: any free port); resolves to { url, close }. */
export async function serveWeb(port = 0) {
  const html = (await readFile(join(page, 'index.html'), 'utf8')).replace('<!-- import map -->', importMapScript());
  return serveStatic({ ...distMounts(), '/models/': models, '/': page }, { '/': html, '/index.html': html }, port);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const s = await serveWeb(Number(process.argv[2] ?? 8080));
  console.log(`Trine in the browser: ${s.url}/  (needs pnpm build first; ?isolated=0 for the single-thread fallback)`);
}
