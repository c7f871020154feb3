import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { CpuIdentity, HostFacts } from './report/schema.js';

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

/**
 * Intel family-6 model numbers of the server and desktop cores we meet (Intel SDM vol. 4, table 2-1), and AMD
 * families by their first model numbers (family 25: Zen 3 below model 0x10 and at 0x20–0x5f, Zen 4 elsewhere).
 */
const INTEL_FAMILY6: Readonly<Record<number, string>> = {
  0x55: 'Skylake-SP / Cascade Lake', 0x6a: 'Ice Lake-SP', 0x6c: 'Ice Lake-D', 0x7e: 'Ice Lake', 0x8c: 'Tiger Lake',
  0x8f: 'Sapphire Rapids', 0x97: 'Alder Lake', 0x9a: 'Alder Lake', 0xb7: 'Raptor Lake', 0xba: 'Raptor Lake',
  0xad: 'Granite Rapids', 0xae: 'Granite Rapids', 0xaf: 'Sierra Forest', 0xcf: 'Emerald Rapids',
};

function microarchitecture(vendor: string, family: number, model: number): string | undefined {
  if (vendor === 'AuthenticAMD') {
    if (family === 23) return model >= 0x30 ? 'Zen 2' : 'Zen / Zen+';
    if (family === 25) return model < 0x10 || (model >= 0x20 && model < 0x60) ? 'Zen 3' : 'Zen 4';
    if (family === 26) return 'Zen 5';
  }
  if (vendor === 'GenuineIntel' && family === 6) return INTEL_FAMILY6[model];
  return undefined;
}

/**
 * The CPU as /proc/cpuinfo names it: a hypervisor often shows only "AMD EPYC" as the model name, while vendor,
 * family, model and stepping still tell a Zen 4 from a Zen 5 (or an Emerald Rapids from a Sapphire Rapids).
 */
export function cpuIdentity(cpuinfo: string): CpuIdentity | undefined {
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();
  const vendor = field('vendor_id');
  const family = Number(field('cpu family'));
  const model = Number(field('model'));
  if (!vendor || !Number.isInteger(family) || !Number.isInteger(model)) return undefined;
  const stepping = Number(field('stepping'));
  const uarch = microarchitecture(vendor, family, model);
  return { vendor, family, model, ...(Number.isInteger(stepping) ? { stepping } : {}), ...(uarch ? { microarchitecture: uarch } : {}) };
}

export function hostFacts(extra: Partial<HostFacts> = {}): HostFacts {
  let cpuinfo = '';
  try { cpuinfo = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux */ }
  const flags = new Set((/^(?:flags|Features)\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  const cpu = cpuIdentity(cpuinfo);
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    ...(cpu ? { cpu } : {}),
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
