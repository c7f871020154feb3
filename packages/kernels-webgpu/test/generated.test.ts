import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('src/wgsl.generated.ts matches wgsl/*.wgsl', () => {
  const script = fileURLToPath(new URL('../scripts/embed-wgsl.mjs', import.meta.url));
  expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
});
