import { DEFAULT_MODEL_NAME, invalidArgument, openModel, type ModelSource } from '@trine/core';
import { parseArgs, type FlagSpec } from '../args.js';

export const INFO_FLAGS: Readonly<Record<string, FlagSpec>> = {
  json: { kind: 'boolean', help: 'print the description as JSON' },
};

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Everything `trine info` reports, read from the file's header only (no weights are loaded). */
export function describeSource(source: ModelSource) {
  const c = source.config;
  const t = source.tokenizer;
  const types = new Map<string, number>();
  for (const tensor of source.tensors) types.set(tensor.type, (types.get(tensor.type) ?? 0) + 1);
  // f16 K and V per position, per layer (what one sequence's KV cache costs at full context).
  const kvBytesPerSequence = 2 * c.layers * c.context * c.kvHeads * c.headDim * 2;
  return {
    path: source.path,
    name: source.name,
    format: source.format,
    randomWeights: source.name === DEFAULT_MODEL_NAME,
    config: c,
    tensorTypes: Object.fromEntries(types),
    tensors: source.tensors,
    tokenizer: {
      model: t.model,
      pre: t.pre ?? null,
      vocab: t.tokens.length,
      bosId: t.bosId ?? null,
      eosId: t.eosId ?? null,
      eotId: t.eotId ?? null,
      addBos: t.addBos,
      chatTemplate: t.chatTemplate ?? null,
    },
    memory: { weightBytes: source.weightBytes, kvBytesPerSequence },
  };
}

function text(d: ReturnType<typeof describeSource>): string {
  const c = d.config;
  const lines = [
    `file:          ${d.path}`,
    `name:          ${d.name}`,
    `format:        ${d.format}`,
    `architecture:  ${c.arch} (${c.activation} FFN, ${c.actQuant} int8 activations)`,
    `shape:         hidden ${c.hidden}, layers ${c.layers}, heads ${c.heads} (KV ${c.kvHeads}, head dim ${c.headDim}), FFN ${c.ffn}`,
    `vocab/context: ${c.vocab} tokens, ${c.context} positions; RoPE θ ${c.ropeTheta} over ${c.ropeDim} dims; RMS eps ${Number(c.rmsEps.toPrecision(6))}`,
    `tensors:       ${d.tensors.length} (${Object.entries(d.tensorTypes).map(([k, v]) => `${k} ×${v}`).join(', ')})`,
    `tokenizer:     ${d.tokenizer.model}${d.tokenizer.pre ? ` (${d.tokenizer.pre})` : ''}, ${d.tokenizer.vocab} tokens, BOS ${d.tokenizer.bosId ?? '-'}, EOS ${d.tokenizer.eosId ?? '-'}, EOT ${d.tokenizer.eotId ?? '-'}`,
    `chat template: ${d.tokenizer.chatTemplate === null ? 'none in the file' : `${d.tokenizer.chatTemplate.length} characters`}`,
    `memory:        weights ${mb(d.memory.weightBytes)}; KV cache ${mb(d.memory.kvBytesPerSequence)} per sequence at full context (f16)`,
  ];
  if (d.randomWeights) lines.push('note:          this is Trine\'s built-in demo model: its weights are RANDOM, so its text is gibberish');
  return `${lines.join('\n')}\n`;
}

export async function runInfo(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, INFO_FLAGS);
  if (positionals.length !== 1) throw invalidArgument('FILE', positionals.length === 0 ? 'is required' : 'must be one path');
  const source = await openModel(positionals[0]!);
  try {
    const d = describeSource(source);
    process.stdout.write(flags.json ? `${JSON.stringify(d, null, 2)}\n` : text(d));
    return 0;
  } finally {
    await source.close();
  }
}
