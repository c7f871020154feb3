import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

/**
 * Physical cores this process may use: distinct (package, core) pairs among online CPUs (Linux sysfs), capped by
 * the CPUs the process can run on; falls back to the logical count elsewhere.
 */
export function physicalCores(): number {
  const logical = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  try {
    const base = '/sys/devices/system/cpu';
    const cores = new Set<string>();
    for (const name of readdirSync(base)) {
      if (!/^cpu\d+$/.test(name)) continue;
      try {
        const pkg = readFileSync(`${base}/${name}/topology/physical_package_id`, 'utf8').trim();
        const core = readFileSync(`${base}/${name}/topology/core_id`, 'utf8').trim();
        cores.add(`${pkg}:${core}`);
      } catch {
        // offline CPUs have no topology directory
      }
    }
    return Math.max(1, Math.min(logical, cores.size || logical));
  } catch {
    return Math.max(1, logical);
  }
}
