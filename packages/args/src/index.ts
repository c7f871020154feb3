/**
 * The one argv parser of the CLI, the bench and the conformance kit: each command declares a flag table (name, short
 * alias, type, default, help, repeatable or comma list) and `parseArgs` reads `--name value`, `--name=value`,
 * `-x value`, boolean `--flag`, positionals and `--`. `flagHelp` writes the options section of `--help` from the same
 * table. Every bad flag or value is a TrineError (INVALID_ARGUMENT) whose field is the flag, `--name`.
 *
 * Short aliases follow llama.cpp's common flags where a command has the same flag: `-m` model, `-p` prompt,
 * `-n` tokens to generate, `-c` context, `-t` threads, `-s` seed, and the long spelling `--temp`.
 */
import { invalidArgument } from '@trine/core';

export type FlagKind = 'string' | 'int' | 'number' | 'boolean' | 'strings';

export interface FlagSpec {
  /** `strings`: a string that may be given more than once, collected in order. */
  readonly kind: FlagKind;
  readonly help: string;
  /** One-letter alias, spelled `-x`. */
  readonly short?: string;
  /** Other long spellings (llama.cpp's, e.g. `temp` for `temperature`). */
  readonly aliases?: readonly string[];
  /** Value when the flag is absent (shown by --help). */
  readonly default?: string | number | boolean | readonly (string | number)[];
  /** A comma-separated list: each part parsed and checked alone, duplicates dropped; with `repeatable`, lists join. */
  readonly list?: boolean;
  /** May be given more than once (values collect into an array); a non-repeatable flag given twice keeps the last. */
  readonly repeatable?: boolean;
  /** Inclusive bounds for numbers. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds for numbers. */
  readonly above?: number;
  readonly below?: number;
  /** The allowed values of a string. */
  readonly oneOf?: readonly string[];
  /** Match `oneOf` ignoring case (the value is lowercased). */
  readonly ignoreCase?: boolean;
  /** What a value is, for messages: `unknown backend 'x'`. */
  readonly noun?: string;
  /** Placeholder in --help (default N for int, X for number, VALUE for string). */
  readonly value?: string;
  /** Accept an empty value (`--prompt ''`); otherwise it needs one. */
  readonly allowEmpty?: boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

export type FlagValue = string | number | boolean | string[] | number[];
export type FlagValues = Record<string, FlagValue | undefined>;

export interface Parsed {
  readonly flags: FlagValues;
  readonly positionals: string[];
  /** `--help` or `-h` was given (never an error, whatever the table). */
  readonly help: boolean;
}

const HELP = ['--help', '-h'];

function numberValue(flag: string, spec: FlagSpec, raw: string): number {
  const trimmed = raw.trim();
  const value = trimmed === '' ? NaN : Number(trimmed);
  const int = spec.kind === 'int';
  const lo = spec.above !== undefined ? `(${spec.above}` : spec.min !== undefined ? `[${spec.min}` : undefined;
  const hi = spec.below !== undefined ? `${spec.below})` : spec.max !== undefined ? `${spec.max}]` : undefined;
  const range = lo && hi ? ` in ${lo}, ${hi}` : lo ? (spec.above !== undefined ? ` > ${spec.above}` : ` ≥ ${spec.min}`) :
    hi ? (spec.below !== undefined ? ` < ${spec.below}` : ` ≤ ${spec.max}`) : '';
  const ok = Number.isFinite(value) && (!int || Number.isSafeInteger(value)) && (spec.min === undefined || value >= spec.min) &&
    (spec.max === undefined || value <= spec.max) && (spec.above === undefined || value > spec.above) &&
    (spec.below === undefined || value < spec.below);
  if (!ok) throw invalidArgument(flag, `'${raw}' is not ${int ? 'an integer' : 'a number'}${range}`);
  return value;
}

function stringValue(flag: string, spec: FlagSpec, raw: string): string {
  const value = spec.ignoreCase ? raw.toLowerCase() : raw;
  if (spec.oneOf && !spec.oneOf.includes(value)) {
    throw invalidArgument(flag, `unknown ${spec.noun ? `${spec.noun} ` : ''}'${raw}' (known: ${spec.oneOf.join(', ')})`);
  }
  return value;
}

function parseValue(flag: string, spec: FlagSpec, raw: string): string | number | (string | number)[] {
  const one = (s: string) => (spec.kind === 'int' || spec.kind === 'number' ? numberValue(flag, spec, s) : stringValue(flag, spec, s));
  if (!spec.list) return one(raw);
  const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw invalidArgument(flag, 'expects a comma-separated list');
  return [...new Set(parts.map(one))];
}

/** Long names and short letters of a table, each mapped to its flag name; a clash is a bug in the table. */
function lookup(specs: FlagTable): Map<string, string> {
  const names = new Map<string, string>();
  const add = (spelling: string, name: string) => {
    if (names.has(spelling) || HELP.includes(spelling)) throw new Error(`flag table: ${spelling} is declared twice`);
    names.set(spelling, name);
  };
  for (const [name, spec] of Object.entries(specs)) {
    add(`--${name}`, name);
    for (const a of spec.aliases ?? []) add(`--${a}`, name);
    if (spec.short !== undefined) add(`-${spec.short}`, name);
  }
  return names;
}

export function parseArgs(argv: readonly string[], specs: FlagTable): Parsed {
  const names = lookup(specs);
  const flags: FlagValues = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    // A lone '-' and negative numbers are values, not flags.
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    if (HELP.includes(arg)) {
      help = true;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const spelling = eq < 0 ? arg : arg.slice(0, eq);
    const name = names.get(spelling);
    if (name === undefined) throw invalidArgument(spelling, `unknown flag '${spelling}' (see --help)`);
    const spec = specs[name]!;
    const flag = `--${name}`;
    if (spec.kind === 'boolean') {
      if (eq >= 0) throw invalidArgument(flag, 'takes no value');
      flags[name] = true;
      continue;
    }
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined || (raw === '' && !spec.allowEmpty)) throw invalidArgument(flag, 'needs a value');
    const value = parseValue(flag, spec, raw);
    if (spec.kind === 'strings' || spec.repeatable) {
      const all = [...((flags[name] as (string | number)[] | undefined) ?? []), ...(Array.isArray(value) ? value : [value])];
      flags[name] = (spec.list ? [...new Set(all)] : all) as string[] | number[];
    } else flags[name] = value as FlagValue;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (flags[name] === undefined && spec.default !== undefined) flags[name] = (Array.isArray(spec.default) ? [...spec.default] : spec.default) as FlagValue;
  }
  return { flags, positionals, help };
}

/** The options section of a command's --help, from its table. */
export function flagHelp(specs: FlagTable): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const placeholder = s.kind === 'boolean' ? '' : ` ${s.value ?? (s.kind === 'int' ? 'N' : s.kind === 'number' ? 'X' : 'VALUE')}${s.list ? '[,…]' : ''}`;
    const spellings = [`--${name}`, ...(s.aliases ?? []).map((a) => `--${a}`)].join(', ');
    const left = `  ${s.short !== undefined ? `-${s.short}, ` : '    '}${spellings}${placeholder}`;
    const extras = [
      s.kind === 'strings' || s.repeatable ? 'repeatable' : '',
      s.default !== undefined ? `default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}` : '',
    ].filter((x) => x !== '');
    return [left, extras.length > 0 ? `${s.help} (${extras.join('; ')})` : s.help] as const;
  });
  rows.push(['  -h, --help', 'print this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => l.padEnd(width) + h).join('\n');
}
