import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repo root: this file is packages/core/src/formats/test-support/fixtures.ts. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');

/** The shared fixtures folder, `../shared/fixtures` beside the repo (CI clones it there too). */
export function fixturesDir(): string {
  return path.resolve(repoRoot, '..', 'shared', 'fixtures');
}

export const FIXTURE_NAMES = ['tiny-bitnet25-i2_s', 'tiny-bitnet-b158-i2_s', 'tiny-bitnet-tq2_0', 'tiny-bitnet-tq1_0'] as const;

/** True when the fixtures folder exists; logs a visible message once when it does not (tests then skip). */
let warned = false;
export function haveFixtures(): boolean {
  const ok = existsSync(fixturesDir());
  if (!ok && !warned) {
    warned = true;
    console.warn(`\n*** SKIPPING fixture tests: ${fixturesDir()} does not exist ***\n`);
  }
  return ok;
}

export function fixturePath(name: string): string {
  return path.join(fixturesDir(), `${name}.gguf`);
}

export interface ReferenceJson {
  fixture_bytes: number;
  arch: string;
  ternary_type: string;
  vocab: { n_vocab: number; bos: number; eos: number; eot: number; add_bos_token: boolean };
  gguf: { version: number; alignment: number; tensor_data_offset: number; n_tensors: number; n_kv: number };
  metadata: { key: string; type: string; value?: unknown; count?: number; first?: unknown[] }[];
  tensors: { name: string; type: string; ggml_type_id: number; ne: number[]; data_offset_in_file: number; nbytes: number; sha256: string }[];
  ternary_tensors: {
    name: string; type: string; ne: number[]; scale: number; count_minus1_0_plus1: [number, number, number];
    ternary_codes_sha256: string; first_16_codes: number[]; scale_float32_bits?: string; scale_float16_bits?: string;
  }[];
  chat: { template: string };
}

export function readReference(name: string): ReferenceJson {
  return JSON.parse(readFileSync(path.join(fixturesDir(), `${name}.reference.json`), 'utf8')) as ReferenceJson;
}
