import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { workspaceAlias } from '../../../vitest.shared';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

describe('entry points', () => {
  it('the main entry and everything it imports statically (core included) have no node: import', async () => {
    const entry = here('../src/index.ts');
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      metafile: true,
      alias: { '@trine/core': workspaceAlias['@trine/core'] },
      // Lazy `await import('node:…')` in core's file readers is allowed: a browser never calls them.
      external: ['node:*'],
    });
    const inputs = out.metafile!.inputs;
    const start = Object.keys(inputs).find((k) => entry.endsWith(k))!;
    const seen = new Set<string>([start]);
    const offenders: string[] = [];
    for (const file of seen) {
      for (const imp of inputs[file]!.imports) {
        if (imp.kind !== 'import-statement') continue; // dynamic imports load only when called
        if (imp.path.startsWith('node:') || imp.path === 'vitest') offenders.push(`${file} → ${imp.path}`);
        else if (inputs[imp.path]) seen.add(imp.path);
      }
    }
    expect(seen.size).toBeGreaterThan(30);
    expect(offenders).toEqual([]);
  });

  it('the subpath entries resolve in vitest to the kit sources', async () => {
    // Specifiers in variables: the type checker must not resolve this package's own (maybe unbuilt) dist.
    const [vitestEntry, cliEntry] = ['@trine/conformance/vitest', '@trine/conformance/cli'];
    const v = (await import(/* @vite-ignore */ vitestEntry)) as Record<string, unknown>;
    const c = (await import(/* @vite-ignore */ cliEntry)) as Record<string, unknown>;
    expect(typeof v.describeConformance).toBe('function');
    expect(typeof c.runConformanceCli).toBe('function');
  });
});
