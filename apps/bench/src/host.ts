import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { HostFacts } from './report/schema.js';

const INTERESTING = ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'asimd', 'asimddp', 'sve', 'i8mm'];

/** Count distinct (physical id, core id) pairs; falls back to logical cores. */
export function physicalCores(cpuinfo: string): number {
  const cores = new Set<string>();
  let phys = '0';
  for (const line of cpuinfo.split('\n')) {
    const [k, v] = line.split(':').map((s) => s.trim());
    if (k === 'physical id') phys = v ?? '0';
    if (k === 'core id') cores.add(`${phys}:${v}`);
  }
  return cores.size || os.cpus().length;
}

export function hostFacts(extra: Partial<HostFacts> = {}): HostFacts {
  let cpuinfo = '';
  try { cpuinfo = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux */ }
  const flags = new Set((/^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    simd: INTERESTING.filter((f) => flags.has(f)),
    logicalCores: os.cpus().length,
    physicalCores: physicalCores(cpuinfo),
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    commit,
    ...extra,
  };
}

/** A name for hosts whose numbers are comparable: platform, physical cores, widest SIMD (baselines/<class>.json). */
export function hostClass(h: HostFacts): string {
  const simd = h.simd.includes('avx512_vnni') ? 'avx512vnni' : h.simd.includes('avx2') ? 'avx2' : h.simd.includes('asimddp') ? 'neondot' : h.simd.includes('asimd') ? 'neon' : 'scalar';
  return `${h.platform}-${h.physicalCores}c-${simd}`;
}
