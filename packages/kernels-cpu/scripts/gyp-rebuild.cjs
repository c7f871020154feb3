// Builds the addon from source during `pnpm install`, offline: point node-gyp at this Node's own headers
// (pnpm 12 ignores ~/.npmrc's nodedir, and node-gyp would otherwise download headers from nodejs.org).
// Inside pnpm lifecycle scripts `node-gyp` is on PATH (pnpm bundles it); run by hand, npm's copy is used.
const { existsSync } = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const prefix = path.resolve(path.dirname(process.execPath), '..');
// `--incremental` (the package's build script): recompile only what changed since the last build, so a
// `git pull && pnpm build` never leaves a stale addon behind; a tree never configured gets a full rebuild.
const incremental = process.argv.includes('--incremental');
const configured = existsSync(path.join(__dirname, '..', 'build', 'Makefile'));
const verb = incremental && configured ? 'build' : 'rebuild';
const args = [verb, `--jobs=${process.env.JOBS || 'max'}`, ...process.argv.slice(2).filter((a) => a !== '--incremental')];
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);

let r = spawnSync('node-gyp', args, { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.error && r.error.code === 'ENOENT') {
  const npmGyp = path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(npmGyp)) {
    console.error('kernels-cpu: node-gyp not found (run through pnpm install, or install node-gyp)');
    process.exit(1);
  }
  r = spawnSync(process.execPath, [npmGyp, ...args], { stdio: 'inherit' });
}
if (r.error) console.error(`kernels-cpu: ${r.error.message}`);
process.exit(r.status ?? 1);
