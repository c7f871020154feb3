/**
 * Where the Hub is and where its files go, read from the environment variables huggingface_hub reads, so a cache
 * filled by Python tools is used as it is and the other way round.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

export interface HubSettings {
  /** Base URL of the Hub, without a trailing slash (HF_ENDPOINT; default https://huggingface.co). */
  endpoint: string;
  /** Bearer token for gated and private repos (HF_TOKEN, else the file `$HF_HOME/token` that `hf auth login` writes). */
  token: string | undefined;
  /** The cache root holding `models--org--name` folders (HF_HUB_CACHE, else `$HF_HOME/hub`). */
  cacheDir: string;
  /** HF_HUB_OFFLINE: use only what the cache holds, never touch the network. */
  offline: boolean;
}

const TRUE_VALUES = new Set(['1', 'on', 'yes', 'true']);

/** huggingface_hub's boolean parsing: 1 / ON / YES / TRUE in any case. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toLowerCase());
}

export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return env.HF_HOME;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

function readTokenFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined; // no login file: anonymous access
  }
}

export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const home = hfHome(env);
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || readTokenFile(env.HF_TOKEN_PATH || join(home, 'token')),
    cacheDir: env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || join(home, 'hub'),
    offline: envFlag(env.HF_HUB_OFFLINE),
  };
}
