import type { BitNetConfig, ModelSource } from '../model/config.js';
import type { ByteSource } from './byte-source.js';
import { type OpenModelOptions, openModel } from './open-model.js';

/** What `trine info` prints about a model. */
export interface ModelDescription {
  readonly name: string;
  readonly path: string;
  readonly format: 'gguf' | 'hf';
  readonly config: BitNetConfig;
  /** Total weights (elements) over all tensors. */
  readonly parameters: number;
  readonly tensorCount: number;
  /** Per storage type: how many tensors and how many bytes, largest first. */
  readonly tensorTypes: readonly { type: string; count: number; bytes: number }[];
  readonly tokenizer: {
    readonly model: string;
    readonly pre?: string;
    readonly vocab: number;
    readonly bosId?: number;
    readonly eosId?: number;
    readonly eotId?: number;
    readonly addBos: boolean;
  };
  readonly chatTemplate?: string;
  readonly memory: {
    readonly weightsBytes: number;
    /** K and V for every layer at `context` positions, one sequence. */
    readonly kvCacheBytes: number;
    readonly kvCacheDtype: 'f16' | 'f32';
    readonly context: number;
    readonly totalBytes: number;
  };
}

export interface DescribeOptions extends OpenModelOptions {
  /** Context to size the KV cache for (default: the model's). */
  context?: number;
  kvDtype?: 'f16' | 'f32';
}

/** KV cache bytes: 2 (K, V) × layers × context × kvHeads × headDim × element size. */
export function kvCacheBytes(c: BitNetConfig, context = c.context, dtype: 'f16' | 'f32' = 'f16'): number {
  return 2 * c.layers * context * c.kvHeads * c.headDim * (dtype === 'f16' ? 2 : 4);
}

function isModelSource(x: unknown): x is ModelSource {
  return typeof x === 'object' && x !== null && 'config' in x && 'tokenizer' in x && typeof (x as ModelSource).readTernary === 'function';
}

/** Describe a model (an open ModelSource, or a path / bytes / ByteSource it opens and closes). */
export async function describeModel(source: ModelSource | string | ByteSource | Uint8Array, options: DescribeOptions = {}): Promise<ModelDescription> {
  if (!isModelSource(source)) {
    const m = await openModel(source, options);
    try {
      return await describeModel(m, options);
    } finally {
      await m.close();
    }
  }
  const m = source;
  const types = new Map<string, { type: string; count: number; bytes: number }>();
  let parameters = 0;
  for (const t of m.tensors) {
    const e = types.get(t.type) ?? { type: t.type, count: 0, bytes: 0 };
    e.count++;
    e.bytes += t.bytes;
    types.set(t.type, e);
    parameters += t.shape.reduce((a, b) => a * b, 1);
  }
  const context = options.context ?? m.config.context;
  const kvDtype = options.kvDtype ?? 'f16';
  const kv = kvCacheBytes(m.config, context, kvDtype);
  const tk = m.tokenizer;
  return {
    name: m.name,
    path: m.path,
    format: m.format,
    config: m.config,
    parameters,
    tensorCount: m.tensors.length,
    tensorTypes: [...types.values()].sort((a, b) => b.bytes - a.bytes),
    tokenizer: { model: tk.model, pre: tk.pre, vocab: tk.tokens.length, bosId: tk.bosId, eosId: tk.eosId, eotId: tk.eotId, addBos: tk.addBos },
    chatTemplate: tk.chatTemplate,
    memory: { weightsBytes: m.weightBytes, kvCacheBytes: kv, kvCacheDtype: kvDtype, context, totalBytes: m.weightBytes + kv },
  };
}

function mib(n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(2)} MiB`;
}

/** The description as the lines `trine info` prints. */
export function formatModelDescription(d: ModelDescription): string {
  const c = d.config;
  const lines = [
    `model:        ${d.name} (${d.format}) ${d.path}`,
    `architecture: ${c.arch} (${c.activation} FFN, activations ${c.actQuant})`,
    `shape:        hidden ${c.hidden}, layers ${c.layers}, heads ${c.heads} (KV ${c.kvHeads}, dim ${c.headDim}), ffn ${c.ffn}, vocab ${c.vocab}`,
    `context:      ${c.context} (RoPE θ ${c.ropeTheta}, dims ${c.ropeDim}; RMS eps ${c.rmsEps})`,
    `parameters:   ${d.parameters.toLocaleString('en-US')} in ${d.tensorCount} tensors`,
    ...d.tensorTypes.map((t) => `  ${t.type.padEnd(10)} ${String(t.count).padStart(5)} tensors  ${mib(t.bytes)}`),
    `tokenizer:    ${d.tokenizer.model}${d.tokenizer.pre ? ` (${d.tokenizer.pre})` : ''}, ${d.tokenizer.vocab} tokens, BOS ${d.tokenizer.bosId ?? '-'}${d.tokenizer.addBos ? ' (added)' : ''}, EOS ${d.tokenizer.eosId ?? '-'}, EOT ${d.tokenizer.eotId ?? '-'}`,
    `chat template: ${d.chatTemplate === undefined ? 'none' : `${d.chatTemplate.length} bytes`}`,
    `memory:       weights ${mib(d.memory.weightsBytes)} + KV cache ${mib(d.memory.kvCacheBytes)} (${d.memory.kvCacheDtype}, ${d.memory.context} positions, 1 sequence) = ${mib(d.memory.totalBytes)}`,
  ];
  return lines.join('\n');
}
