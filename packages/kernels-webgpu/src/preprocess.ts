/**
 * A tiny WGSL preprocessor: `//#if NAME`, `//#if !NAME`, `//#elif NAME`, `//#else`, `//#endif` keep or drop lines
 * by a define's truthiness, and `${NAME}` is replaced by the define's value. Defines are the compile-time part of a
 * program (its pipeline cache key); everything else a kernel needs arrives at run time in the parameter window.
 */
export type Defines = Readonly<Record<string, string | number | boolean>>;

export function preprocess(source: string, defines: Defines): string {
  const out: string[] = [];
  // Per nesting level: is this branch active, has any branch of the chain been taken, is the parent active.
  const stack: { active: boolean; taken: boolean; parent: boolean }[] = [];
  const active = (): boolean => (stack.length === 0 ? true : stack[stack.length - 1]!.active);
  const test = (expr: string): boolean => {
    const e = expr.trim();
    return e.startsWith('!') ? !defines[e.slice(1).trim()] : Boolean(defines[e]);
  };
  for (const line of source.split('\n')) {
    const m = /^\s*\/\/#(if|elif|else|endif)\b(.*)$/.exec(line);
    if (!m) {
      if (active()) out.push(line);
      continue;
    }
    const [, kw, rest] = m as unknown as [string, string, string];
    if (kw === 'if') {
      const parent = active();
      const v = parent && test(rest);
      stack.push({ active: v, taken: v, parent });
    } else {
      const top = stack[stack.length - 1];
      if (!top) throw new Error(`wgsl preprocess: //#${kw} without //#if`);
      if (kw === 'elif') {
        top.active = top.parent && !top.taken && test(rest);
        top.taken ||= top.active;
      } else if (kw === 'else') {
        top.active = top.parent && !top.taken;
        top.taken = true;
      } else stack.pop();
    }
  }
  if (stack.length) throw new Error('wgsl preprocess: unterminated //#if');
  return out.join('\n').replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (!(name in defines)) throw new Error(`wgsl preprocess: \${${name}} is not defined`);
    return String(defines[name]);
  });
}
