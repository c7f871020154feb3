/**
 * The web chat's files (apps/gateway/web), read once at start: a fixed, small set served from memory, so no
 * request path ever reaches the file system.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  readonly type: string;
  readonly data: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** From sources (src/http/) and from the bundle (dist/) the folder sits at a different depth. */
function webDir(): string | undefined {
  return ['../../web/', '../web/'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((d) => existsSync(join(d, 'index.html')));
}

/** `/name` → file, for the files of known types in the web folder (none when it is not shipped). */
export function staticFiles(dir = webDir()): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!dir) return files;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`/${name}`, { type, data: readFileSync(join(dir, name)) });
  }
  return files;
}
