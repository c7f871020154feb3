/**
 * Bundles a browser test entry from TypeScript sources (test harness only: the package itself ships plain ESM).
 * Workspace packages resolve to their src; Node built-ins that browser-safe code never reaches are stubbed.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

const stubNodeBuiltins: Plugin = {
  name: 'stub-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      contents: `module.exports = new Proxy({}, { get: (_, k) => k === '__esModule' ? false : () => { throw new Error('${a.path} is not available in a browser'); } });`,
      loader: 'js',
    }));
  },
};

export async function bundleForBrowser(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    alias: {
      '@trine/core': `${root}packages/core/src/index.ts`,
      '@trine/conformance': `${root}packages/conformance/src/index.ts`,
    },
    plugins: [stubNodeBuiltins],
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}
