/**
 * The measurement cache: one JSON file per (host, backend packages, model shape, threads) under
 * `<Trine cache dir>/backends/`, so a host measures a model once. A file that cannot be read or parsed is ignored
 * (the measurement runs again and rewrites it); writes go to a temporary file renamed into place.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { isBackendName, type BackendName } from './catalog.js';

/** One candidate's outcome in a measurement. */
export interface BackendTrial {
  readonly name: string;
  readonly ok: boolean;
  /** Mean ms per decode step of the timed run (when ok). */
  readonly msPerToken?: number;
  readonly reason?: string;
  /** What the backend chose by measuring during the trial (KernelBackend.tuning), a line each. */
  readonly tuning?: readonly string[];
}

export interface MeasurementKey {
  readonly cpu: string;
  readonly packages: Readonly<Record<string, string>>;
  /** sha256 of the model's name, format, config and tensor shapes and types (not its weights). */
  readonly model: string;
  readonly threads: number | 'default';
}

export interface CachedMeasurement {
  readonly version: 1;
  readonly key: MeasurementKey;
  readonly chosen: BackendName;
  readonly trials: readonly BackendTrial[];
  /** ISO 8601. */
  readonly measuredAt: string;
}

/** The CPU this process runs on, as the OS names it. */
export function cpuModel(): string {
  const c = cpus();
  return `${platform()}-${arch()} ${c[0]?.model.trim() ?? 'unknown cpu'} x${c.length}`;
}

export function measurementFile(cacheDir: string, key: MeasurementKey): string {
  const digest = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
  return join(cacheDir, 'backends', `${digest}.json`);
}

function isMeasurement(x: unknown, key: MeasurementKey): x is CachedMeasurement {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Partial<CachedMeasurement>;
  return (
    m.version === 1 &&
    JSON.stringify(m.key) === JSON.stringify(key) &&
    typeof m.chosen === 'string' &&
    isBackendName(m.chosen) &&
    Array.isArray(m.trials) &&
    typeof m.measuredAt === 'string' &&
    !Number.isNaN(Date.parse(m.measuredAt))
  );
}

/** The cached measurement for `key`, or undefined when there is none or the file is not a valid one. */
export async function readMeasurement(file: string, key: MeasurementKey): Promise<CachedMeasurement | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isMeasurement(parsed, key) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function writeMeasurement(file: string, m: CachedMeasurement): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(m, null, 2)}\n`);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
