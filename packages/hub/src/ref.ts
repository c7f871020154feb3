/** `hf:REPO[@REV][/FILE]`: a model named by its Hugging Face repository, as `--model` and TRINE_MODEL accept it. */
import { invalidArgument } from '@trine/core';

export interface HfRef {
  /** `org/name`. */
  readonly repo: string;
  /** Branch, tag or commit; undefined means `main`. */
  readonly revision: string | undefined;
  /** One file in the repo (may contain `/`); undefined lets the puller choose. */
  readonly file: string | undefined;
}

export const HF_PREFIX = 'hf:';
export const DEFAULT_REVISION = 'main';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function isHfRef(spec: string): boolean {
  return spec.startsWith(HF_PREFIX);
}

/** A 40-hex git commit id: a revision that names an immutable snapshot. */
export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

function checkPart(field: string, spec: string, part: string, what: string): void {
  if (!NAME.test(part) || part.includes('..')) throw invalidArgument(field, `'${spec}': ${what} '${part}' is not a valid Hugging Face name`);
}

/**
 * Parses `[hf:]org/name[@rev][/path/to/file]`. The revision runs to the next `/`, so a revision that itself holds a
 * `/` (refs/pr/1) cannot be combined with a file here; pass the file with --file instead.
 */
export function parseHfRef(spec: string, field = 'model'): HfRef {
  const body = isHfRef(spec) ? spec.slice(HF_PREFIX.length) : spec;
  const parts = body.split('/');
  const org = parts[0] ?? '';
  let name = parts[1] ?? '';
  if (parts.length < 2) throw invalidArgument(field, `'${spec}' is not org/name (e.g. hf:microsoft/bitnet-b1.58-2B-4T-gguf)`);
  let revision: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    revision = name.slice(at + 1);
    name = name.slice(0, at);
    // It becomes a file name under refs/: no path of its own.
    if (!/^[A-Za-z0-9._-]+$/.test(revision) || revision === '.' || revision === '..') throw invalidArgument(field, `'${spec}': bad revision '${revision}'`);
  }
  checkPart(field, spec, org, 'organisation');
  checkPart(field, spec, name, 'repository');
  const fileParts = parts.slice(2);
  let file: string | undefined;
  if (fileParts.length > 0) {
    if (fileParts.some((p) => p === '' || p === '.' || p === '..')) throw invalidArgument(field, `'${spec}': bad file path '${fileParts.join('/')}'`);
    file = fileParts.join('/');
  }
  return { repo: `${org}/${name}`, revision, file };
}

export function formatHfRef(ref: HfRef): string {
  return `${HF_PREFIX}${ref.repo}${ref.revision ? `@${ref.revision}` : ''}${ref.file ? `/${ref.file}` : ''}`;
}

/** A file path inside a repo, as siblings name it: relative, no `..`, no empty segment (it becomes a cache path). */
export function checkRepoFile(file: string, field = 'file'): string {
  const parts = file.split('/');
  if (file.length === 0 || file.length > 1024 || parts.some((p) => p === '' || p === '.' || p === '..') || file.includes('\\') || file.includes('\0')) {
    throw invalidArgument(field, `'${file}' is not a file path inside a repository`);
  }
  return file;
}
