/**
 * The WGSL program cache. A program is its compile-time part only — the .wgsl file, its bindings and its defines,
 * which together are the pipeline cache key (context.ts compiles one pipeline per program object). Run-time values
 * (sizes, offsets, token positions) never enter it: a kernel passes them as the parameter window of each dispatch.
 */
import type { Access, Program } from './context.js';
import type { Defines } from './preprocess.js';

export class ProgramCache {
  private readonly programs = new Map<string, Program>();

  /** @param dot4 use dot4I8Packed (every program gets the DOT4 define). */
  constructor(private readonly dot4: boolean) {}

  /** The program for (file, bindings, defines): one object per combination (the context caches by identity). */
  get(file: string, bindings: readonly Access[], defines: Defines = {}): Program {
    let key = `${file}:${bindings.length}`;
    for (const k in defines) key += `,${k}=${String(defines[k])}`;
    let p = this.programs.get(key);
    if (!p) this.programs.set(key, (p = { file, bindings, defines: { DOT4: this.dot4, ...defines } }));
    return p;
  }
}
