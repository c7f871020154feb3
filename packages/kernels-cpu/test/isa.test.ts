import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The addon must load on x86 CPUs without AVX-512 (or AVX2): only the SIMD static libraries may hold vector
// instructions wider than SSE; the glue and the scalar path are built with baseline flags. Checked on the object
// files node-gyp produced (skipped where there is no x86 build or no objdump).
const objDir = path.resolve(fileURLToPath(import.meta.url), '../../build/Release/obj.target/kernels_cpu/native');
function haveObjdump(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const run = process.arch === 'x64' && existsSync(objDir) && haveObjdump();

describe.skipIf(!run)('baseline instruction set outside the SIMD libraries', () => {
  it('glue and scalar objects use no ymm/zmm registers', () => {
    const objects = ['.', 'generic', 'glue'].flatMap((dir) =>
      readdirSync(path.join(objDir, dir)).filter((f) => f.endsWith('.o')).map((f) => path.join(objDir, dir, f)),
    );
    expect(objects.length).toBeGreaterThanOrEqual(7);
    const offenders: string[] = [];
    for (const o of objects) {
      const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', o], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const lines = asm.split('\n').filter((l) => /%[yz]mm\d/.test(l));
      if (lines.length) offenders.push(`${path.basename(o)}: ${lines[0]!.trim()}`);
    }
    expect(offenders).toEqual([]);
  });
});
