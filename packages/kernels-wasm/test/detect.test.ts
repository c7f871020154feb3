import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Relaxed SIMD is used only where it validates AND computes the dot product correctly. Node 20 validates it behind
// a flag but gets i32x4.relaxed_dot_i8x16_i7x16_add_s wrong (shared/notes/toolchain.md §2.9): the backend must
// notice and stay on SIMD128, and refuse an explicit request for relaxed SIMD.
const dist = new URL('../dist/index.js', import.meta.url).href;
const script = `
const { createWasmBackend } = await import(${JSON.stringify(dist)});
const b = await createWasmBackend({ threads: 1 });
let forced = 'created';
try { (await createWasmBackend({ threads: 1, variant: 'relaxed-simd' })).destroy(); } catch (e) { forced = e.code; }
console.log(JSON.stringify({ variant: b.info.variant, relaxed: b.info.details.relaxedSimd, forced }));
b.destroy();`;

describe('relaxed SIMD detection', () => {
  it('with Node’s experimental relaxed SIMD flag: validated and used, or rejected as wrong and refused', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script],
      { cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { variant: string; relaxed: string; forced: string };
    if (process.versions.node.startsWith('20.')) {
      expect(r).toEqual({ variant: 'simd128', relaxed: 'rejected (wrong results)', forced: 'BACKEND_UNAVAILABLE' });
    } else {
      expect(r.variant === 'relaxed-simd').toBe(r.relaxed === 'validated');
      expect(r.forced === 'created').toBe(r.relaxed === 'validated');
    }
  });
});
