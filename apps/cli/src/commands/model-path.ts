import { ensureDefaultModel } from '@trine/core';

/** The embedded default model's cached file (built on first use). */
export function defaultModelPath(): Promise<string> {
  return ensureDefaultModel();
}
