/** `pnpm bench` entry (and, with `__child <job>`, the child-process side of one measurement). */
import { TrineError } from '@trine/core';
import { childMain } from './child.js';
import { USAGE, parseArgs } from './options.js';
import { runBench } from './run.js';
import { hostClass, hostFacts } from './host.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '__child') {
    await childMain(argv[1] ?? '{}');
    return 0;
  }
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (opts === 'host-class') {
    process.stdout.write(`${hostClass(hostFacts())}\n`);
    return 0;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const outcome = await runBench(opts);
  const c = outcome.comparison;
  if (c) {
    process.stderr.write(`baseline: ${c.matched} matched, ${c.regressions.length} regression(s) beyond ${(opts.threshold * 100).toFixed(0)} %\n`);
    for (const r of c.regressions) process.stderr.write(`  REGRESSION ${r.key}: ${r.baseline.toPrecision(4)} → ${r.current.toPrecision(4)} (${(r.change * 100).toFixed(1)} %)\n`);
  }
  return outcome.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof TrineError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
