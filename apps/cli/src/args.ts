/**
 * Flag parsing for the CLI: `--name value`, `--name=value`, boolean `--flag`, repeatable flags, positionals, and
 * `--` to end flags. Every bad value is rejected with the flag named (a TrineError with field = the flag).
 */
import { invalidArgument } from '@trine/core';

export type FlagKind = 'string' | 'int' | 'number' | 'boolean' | 'strings';

export interface FlagSpec {
  readonly kind: FlagKind;
  /** Inclusive bounds for numbers. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound for numbers. */
  readonly above?: number;
  readonly oneOf?: readonly string[];
  readonly help: string;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  readonly flags: FlagValues;
  readonly positionals: string[];
}

function numberFlag(name: string, spec: FlagSpec, raw: string): number {
  const trimmed = raw.trim();
  const value = trimmed === '' ? NaN : Number(trimmed);
  if (!Number.isFinite(value)) throw invalidArgument(`--${name}`, `expects a number, got '${raw}'`);
  if (spec.kind === 'int' && !Number.isSafeInteger(value)) throw invalidArgument(`--${name}`, `expects an integer, got '${raw}'`);
  if (spec.min !== undefined && value < spec.min) throw invalidArgument(`--${name}`, `must be at least ${spec.min}, got ${raw}`);
  if (spec.max !== undefined && value > spec.max) throw invalidArgument(`--${name}`, `must be at most ${spec.max}, got ${raw}`);
  if (spec.above !== undefined && !(value > spec.above)) throw invalidArgument(`--${name}`, `must be greater than ${spec.above}, got ${raw}`);
  return value;
}

export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): Parsed {
  const flags: FlagValues = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
        throw invalidArgument(arg, `unknown option (options are spelled --name)`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw invalidArgument(`--${name}`, `unknown option (see --help)`);
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw invalidArgument(`--${name}`, 'takes no value');
      flags[name] = true;
      continue;
    }
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      raw = argv[i + 1];
      if (raw === undefined) throw invalidArgument(`--${name}`, 'needs a value');
      i++;
    }
    switch (spec.kind) {
      case 'int':
      case 'number':
        flags[name] = numberFlag(name, spec, raw);
        break;
      case 'strings':
        flags[name] = [...((flags[name] as string[] | undefined) ?? []), raw];
        break;
      case 'string':
        if (spec.oneOf && !spec.oneOf.includes(raw)) {
          throw invalidArgument(`--${name}`, `must be one of ${spec.oneOf.join(', ')}, got '${raw}'`);
        }
        flags[name] = raw;
        break;
    }
  }
  return { flags, positionals };
}

/** Help lines for a command's flags. */
export function flagHelp(specs: Readonly<Record<string, FlagSpec>>): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const value = s.kind === 'boolean' ? '' : s.kind === 'int' ? ' N' : s.kind === 'number' ? ' X' : ' VALUE';
    return [`  --${name}${value}`, s.help] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => l.padEnd(width) + h).join('\n');
}
