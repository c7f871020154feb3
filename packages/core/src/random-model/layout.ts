/**
 * The layout every random BitNet GGUF shares: bitnet.cpp's metadata keys and tensor order (token embedding, output
 * norm, then per block the tensors of `blockTensors`), for any shape, ternary type and tokenizer.
 */
import type { GgufValue } from '../formats/gguf/types.js';
import { gv, type GgufWriteTensorInfo } from '../formats/gguf/writer.js';
import { bitnetArchMetadata } from '../formats/gguf/model.js';
import { blockTensors } from '../formats/model-check.js';
import { invalidArgument } from '../errors/index.js';
import type { BitNetArch } from '../model/config.js';
import type { TokenizerSpec } from '../tokenizer/spec.js';
import { tokenizerMetadata } from '../tokenizer/to-gguf.js';

export type RandomTernaryType = 'I2_S' | 'TQ2_0' | 'TQ1_0';

export interface RandomBitnetConfig {
  readonly arch: BitNetArch;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly context: number;
  /** RoPE width (default: the head dimension). */
  readonly ropeDim?: number;
  /** Default 500000 (2B4T's). */
  readonly ropeTheta?: number;
  /** Default 1e-5. */
  readonly rmsEps?: number;
  readonly ternary: RandomTernaryType;
  /** Token embedding type (default F16, tied as the LM head). */
  readonly embedding?: 'F16' | 'F32' | 'BF16';
  /** A spec (written by `tokenizerMetadata`) or the `tokenizer.*` keys as written; the vocabulary is its token count. */
  readonly tokenizer: TokenizerSpec | readonly (readonly [string, GgufValue])[];
  readonly name: string;
  readonly description?: string;
  /** `general.file_type` (llama.cpp's LLAMA_FTYPE: 40 I2_S, 37 TQ2_0); omitted when absent. */
  readonly fileType?: number;
  /** A one-element `blk.N.<projection>.scale` tensor after each projection (arch `bitnet`'s per-tensor scales). */
  readonly scaleTensors?: boolean;
}

/** What a tensor holds, so a weight draw knows which distribution to draw it from. */
export type RandomTensorRole = 'embedding' | 'norm' | 'ternary' | 'scale';

export interface RandomTensor extends GgufWriteTensorInfo {
  readonly role: RandomTensorRole;
}

export interface RandomBitnetLayout {
  metadata: [string, GgufValue][];
  tensors: RandomTensor[];
  vocab: number;
}

function tokenizerKeys(t: RandomBitnetConfig['tokenizer']): { keys: [string, GgufValue][]; vocab: number } {
  if (!Array.isArray(t)) {
    const spec = t as TokenizerSpec;
    return { keys: tokenizerMetadata(spec), vocab: spec.tokens.length };
  }
  const keys = (t as readonly (readonly [string, GgufValue])[]).map(([k, v]) => [k, v] as [string, GgufValue]);
  const tokens = keys.find(([k]) => k === 'tokenizer.ggml.tokens')?.[1];
  if (tokens?.type !== 'ARRAY') throw invalidArgument('tokenizer', 'the tokenizer keys have no tokenizer.ggml.tokens array');
  return { keys, vocab: (tokens.value as ArrayLike<unknown>).length };
}

/** Metadata and tensor list (without data) of a random BitNet model. */
export function randomBitnetLayout(c: RandomBitnetConfig): RandomBitnetLayout {
  const { keys, vocab } = tokenizerKeys(c.tokenizer);
  const headDim = c.hidden / c.heads;
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str(c.arch)],
    ['general.name', gv.str(c.name)],
  ];
  if (c.description !== undefined) metadata.push(['general.description', gv.str(c.description)]);
  metadata.push(...bitnetArchMetadata({
    arch: c.arch, vocab, context: c.context, hidden: c.hidden, layers: c.layers, ffn: c.ffn,
    ropeDim: c.ropeDim ?? headDim, heads: c.heads, kvHeads: c.kvHeads, rmsEps: c.rmsEps ?? 1e-5, ropeTheta: c.ropeTheta ?? 500000,
  }));
  if (c.fileType !== undefined) metadata.push(['general.file_type', gv.u32(c.fileType)]);
  metadata.push(...keys);

  const tensors: RandomTensor[] = [
    { name: 'token_embd.weight', ne: [c.hidden, vocab], type: c.embedding ?? 'F16', role: 'embedding' },
    { name: 'output_norm.weight', ne: [c.hidden], type: 'F32', role: 'norm' },
  ];
  for (let l = 0; l < c.layers; l++) {
    for (const [short, ne] of blockTensors({ hidden: c.hidden, heads: c.heads, kvHeads: c.kvHeads, headDim, ffn: c.ffn })) {
      const name = `blk.${l}.${short}.weight`;
      if (ne.length === 1) {
        tensors.push({ name, ne, type: 'F32', role: 'norm' });
        continue;
      }
      tensors.push({ name, ne, type: c.ternary, role: 'ternary' });
      if (c.scaleTensors) tensors.push({ name: `blk.${l}.${short}.scale`, ne: [1], type: 'F32', role: 'scale' });
    }
  }
  return { metadata, tensors, vocab };
}
