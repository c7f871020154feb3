import { basename, resolve } from 'node:path';
import { invalidArgument } from '@trine/core';
import { CONVERT_TYPES, type ConvertType, convertToGguf, isHfRef, parseHfRef } from '@trine/hub';
import { parseArgs, type FlagSpec } from '@trine/args';
import { localModel } from './hf-model.js';

export const CONVERT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  type: { kind: 'string', oneOf: CONVERT_TYPES, help: 'i2_s (bitnet.cpp), tq2_0 or tq1_0 (llama.cpp)' },
  output: { kind: 'string', short: 'o', value: 'FILE', help: 'the GGUF to write (default: NAME-TYPE.gguf here)' },
};

/** `trine convert DIR|hf:ORG/NAME|FILE --type T [-o FILE]`: a BitNet checkpoint to a GGUF bitnet.cpp / llama.cpp load. */
export async function runConvert(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, CONVERT_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('MODEL', positionals.length === 0 ? 'is required (a Hugging Face directory, hf:ORG/NAME or a GGUF)' : 'must be one model');
  if (flags.type === undefined) throw invalidArgument('--type', `is required (${CONVERT_TYPES.join(', ')})`);
  const type = flags.type as ConvertType;
  const spec = positionals[0]!;
  const name = isHfRef(spec) ? parseHfRef(spec).repo.split('/')[1]! : basename(resolve(spec)).replace(/\.gguf$/i, '');
  const output = (flags.output as string | undefined) ?? `${name}-${type}.gguf`;
  const r = await convertToGguf(await localModel(spec), type, output);
  for (const note of r.notes) process.stderr.write(`note: ${note}\n`);
  process.stderr.write(`wrote ${r.tensors} tensors, arch ${r.arch}, ${type.toUpperCase()}\n`);
  process.stdout.write(`${r.output}\n`);
  return 0;
}
