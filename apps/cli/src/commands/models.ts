import { invalidArgument } from '@trine/core';
import { hubSettings, listCachedModels, removeCached } from '@trine/hub';
import { parseArgs, type FlagSpec } from '@trine/args';

export const MODELS_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { kind: 'boolean', help: 'print the list as JSON' },
};

function size(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}

/** `trine models` lists the Hugging Face cache (pulled by Trine or by Python tools); `trine models rm MODEL` removes. */
export async function runModels(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, MODELS_FLAGS);
  const settings = hubSettings();
  if (positionals[0] === 'rm') {
    if (positionals.length !== 2) throw invalidArgument('MODEL', 'give one: org/name, org/name@revision or org/name[@revision]/FILE');
    const r = await removeCached(positionals[1]!, settings);
    process.stdout.write(`removed ${r.removed} (${size(r.freedBytes)} freed)\n`);
    return 0;
  }
  if (positionals.length > 0) throw invalidArgument(positionals[0]!, "unknown subcommand (models, or models rm MODEL)");
  const models = await listCachedModels(settings);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
    return 0;
  }
  if (models.length === 0) {
    process.stdout.write(`no models in ${settings.cacheDir} (trine pull ORG/NAME fetches one)\n`);
    return 0;
  }
  const rows = [['REPO', 'REVISION', 'FILE', 'SIZE', 'TYPE']];
  for (const m of models) {
    rows.push([m.repo, m.revisions.join(',') || m.commit.slice(0, 12), m.file, size(m.size), m.ternaryType ?? '-']);
  }
  process.stdout.write(`${table(rows)}\n`);
  return 0;
}
