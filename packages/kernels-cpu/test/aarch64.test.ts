import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The ARM paths, executed: scripts/test-aarch64.sh cross-compiles native/test/harness.cc and runs it under
// qemu-aarch64 on CPU models with and without SDOT and SMMLA, every ARM kernel against the scalar one bit for bit
// (`pnpm --filter @trine/kernels-cpu test:aarch64` runs the same). Needs Debian's g++-aarch64-linux-gnu and
// qemu-user; where they are missing the test is skipped and says so.
const script = path.resolve(fileURLToPath(import.meta.url), '../../scripts/test-aarch64.sh');
function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}
const missing = ['aarch64-linux-gnu-g++', 'qemu-aarch64'].filter((t) => !have(t));
const reason = missing.length
  ? ` (skipped: ${missing.join(' and ')} not installed; apt-get install g++-aarch64-linux-gnu qemu-user)`
  : '';

describe('ARM NEON / SDOT / SMMLA kernels under qemu-aarch64', () => {
  it.skipIf(missing.length > 0)(`match the scalar path bit for bit on every CPU model${reason}`, () => {
    let out: string;
    try {
      out = execFileSync('bash', [script], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 900_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`test-aarch64.sh failed:\n${(e.stdout ?? '').slice(-4000)}${e.stderr ?? ''}`);
    }
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(out.trim().split('\n').at(-1) ?? '');
    expect(summary, out.slice(-2000)).not.toBeNull();
    expect(Number(summary![2])).toBe(0);
    // Three CPU models × three variants; each available run checks hundreds of kernel calls.
    expect(Number(summary![1])).toBeGreaterThan(1000);
    // Detection refused what the CPU lacks instead of running it.
    expect(out).toMatch(/qemu -cpu cortex-a53, TRINE_CPU_VARIANT=dotprod: 1 passed, 0 failed/);
    expect(out).toMatch(/qemu -cpu cortex-a76, TRINE_CPU_VARIANT=i8mm: 1 passed, 0 failed/);
  }, 900_000);
});
