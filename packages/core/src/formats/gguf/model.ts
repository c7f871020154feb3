import { TrineError, invalidModelFile } from '../../errors/index.js';
import type { HostTensor, TernaryTensor } from '../../kernels/spec.js';
import type { BitNetArch, BitNetConfig, ModelSource } from '../../model/config.js';
import { ternaryFromGguf } from '../../quant/ternary.js';
import { tokenizerSpecFromGguf } from '../../tokenizer/from-gguf.js';
import type { ByteSource } from '../byte-source.js';
import { floatBytesToF32, floatHostTensor } from '../float-tensors.js';
import { BITNET_ARCHS, MODEL_LIMITS, type TensorEntry, checkConfig, checkTensors, checkTokenizer } from '../model-check.js';
import { metaFloat, metaInt, metaString, requireInt, requireString } from './meta.js';
import { type GgufFile, type GgufOpenOptions, openGguf } from './reader.js';
import type { GgufValue } from './types.js';
import { gv } from './writer.js';

export interface OpenModelOptions extends GgufOpenOptions {}

/** Hyper-parameters from `<arch>.*` keys, range-checked (reliability.md cases 12–13). */
export function bitnetConfigFromGguf(g: GgufFile, ternaryType?: string): BitNetConfig {
  const meta = g.metadata;
  const archName = requireString(meta, 'general.architecture');
  if (!(BITNET_ARCHS as readonly string[]).includes(archName)) {
    throw new TrineError('UNSUPPORTED', `general.architecture "${archName}" is not a BitNet b1.58 model (${BITNET_ARCHS.join(', ')})`, { field: 'general.architecture' });
  }
  const arch = archName as BitNetArch;
  const p = `${arch}.`;
  const hidden = requireInt(meta, `${p}embedding_length`, { min: 1, max: MODEL_LIMITS.maxHidden });
  const heads = requireInt(meta, `${p}attention.head_count`, { min: 1, max: MODEL_LIMITS.maxHeads });
  const kvHeads = metaInt(meta, `${p}attention.head_count_kv`, { min: 1, max: MODEL_LIMITS.maxHeads }) ?? heads;
  const headDim = Math.floor(hidden / heads);
  const keyLength = metaInt(meta, `${p}attention.key_length`, { min: 1, max: MODEL_LIMITS.maxHidden });
  if (keyLength !== undefined && keyLength !== headDim) throw invalidModelFile(`${p}attention.key_length`, 0, `${keyLength} differs from hidden/heads = ${headDim}`);
  const tokens = meta.get('tokenizer.ggml.tokens');
  const tokenCount = tokens?.type === 'ARRAY' ? (tokens.value as ArrayLike<unknown>).length : undefined;
  const vocab = metaInt(meta, `${p}vocab_size`, { min: 1, max: MODEL_LIMITS.maxVocab }) ?? tokenCount;
  if (vocab === undefined) throw invalidModelFile(`${p}vocab_size`, 0, 'required key is missing (and there is no token list)');
  const config: BitNetConfig = {
    arch,
    hidden,
    layers: requireInt(meta, `${p}block_count`, { min: 1, max: MODEL_LIMITS.maxLayers }),
    heads,
    kvHeads,
    headDim,
    ffn: requireInt(meta, `${p}feed_forward_length`, { min: 1, max: MODEL_LIMITS.maxFfn }),
    vocab,
    context: requireInt(meta, `${p}context_length`, { min: 1, max: MODEL_LIMITS.maxContext }),
    ropeTheta: metaFloat(meta, `${p}rope.freq_base`) ?? 10000,
    ropeDim: metaInt(meta, `${p}rope.dimension_count`, { min: 0, max: MODEL_LIMITS.maxHidden }) ?? headDim,
    rmsEps: metaFloat(meta, `${p}attention.layer_norm_rms_epsilon`) ?? 1e-5,
    activation: arch === 'bitnet' ? 'silu' : 'relu2',
    actQuant: ternaryType === 'TQ1_0' || ternaryType === 'TQ2_0' ? 'per_block256' : 'per_token',
  };
  checkConfig(config, p);
  return config;
}

/** The hyper-parameter keys `bitnetConfigFromGguf` reads, as a writer emits them (bitnet.cpp's converter's order). */
export function bitnetArchMetadata(
  c: Pick<BitNetConfig, 'arch' | 'vocab' | 'context' | 'hidden' | 'layers' | 'ffn' | 'ropeDim' | 'heads' | 'kvHeads' | 'rmsEps' | 'ropeTheta'>,
): [string, GgufValue][] {
  const p = c.arch;
  return [
    [`${p}.vocab_size`, gv.u32(c.vocab)],
    [`${p}.context_length`, gv.u32(c.context)],
    [`${p}.embedding_length`, gv.u32(c.hidden)],
    [`${p}.block_count`, gv.u32(c.layers)],
    [`${p}.feed_forward_length`, gv.u32(c.ffn)],
    [`${p}.rope.dimension_count`, gv.u32(c.ropeDim)],
    [`${p}.attention.head_count`, gv.u32(c.heads)],
    [`${p}.attention.head_count_kv`, gv.u32(c.kvHeads)],
    [`${p}.attention.layer_norm_rms_epsilon`, gv.f32(c.rmsEps)],
    [`${p}.rope.freq_base`, gv.f32(c.ropeTheta)],
  ];
}

/** A validated GGUF as a ModelSource: config, tokenizer and every required tensor are checked before returning. */
export async function ggufModelSource(source: ByteSource | string | Uint8Array, options: OpenModelOptions = {}): Promise<ModelSource> {
  const g = await openGguf(source, options);
  try {
    return build(g);
  } catch (e) {
    await g.close();
    throw e;
  }
}

function build(g: GgufFile): ModelSource {
  const entries = new Map<string, TensorEntry>(g.tensors.map((t) => [t.name, { name: t.name, type: t.type, ne: t.ne, bytes: t.byteSize }]));
  // Config first without the ternary type (to know the shapes), then the tensor check tells us the type.
  const shapeConfig = bitnetConfigFromGguf(g);
  const ternaryType = checkTensors(shapeConfig, entries);
  const config = { ...shapeConfig, actQuant: ternaryType === 'TQ1_0' || ternaryType === 'TQ2_0' ? 'per_block256' : 'per_token' } as const;
  const tokenizer = tokenizerSpecFromGguf(g.metadata);
  checkTokenizer(tokenizer, config.vocab);

  const info = (name: string) => {
    const t = g.tensor(name);
    if (!t) throw new TrineError('NOT_FOUND', `tensor ${name} is not in ${g.source.name}`, { field: name });
    return t;
  };
  const reverse = (ne: readonly number[]) => [...ne].reverse();

  return {
    path: g.source.name,
    format: 'gguf',
    config,
    tokenizer,
    name: metaString(g.metadata, 'general.name') ?? g.source.name.split('/').pop() ?? 'model',
    weightBytes: g.tensorBytes,
    tensors: g.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.ne, bytes: t.byteSize })),
    hasTensor: (name) => g.tensor(name) !== undefined,
    async readF32(name): Promise<HostTensor<'f32'>> {
      const t = info(name);
      if (t.type !== 'F32' && t.type !== 'F16' && t.type !== 'BF16') throw new TrineError('UNSUPPORTED', `${name} is ${t.type}, not a float tensor`, { field: name });
      return { dtype: 'f32', shape: reverse(t.ne), data: floatBytesToF32(t.type, await g.readTensor(t), t.elements) };
    },
    async readMatrix(name, memory): Promise<HostTensor<'f16' | 'f32'>> {
      const t = info(name);
      if (t.ne.length !== 2 || (t.type !== 'F32' && t.type !== 'F16' && t.type !== 'BF16')) {
        throw new TrineError('UNSUPPORTED', `${name} (${t.type} [${t.ne.join(', ')}]) is not a float matrix`, { field: name });
      }
      // Only F16 is kept as read (floatHostTensor copies F32 and BF16 into new arrays), so only its bytes go there.
      const into = t.type === 'F16' ? memory?.(t.byteSize) : undefined;
      return floatHostTensor(t.type, await g.readTensor(t, into), reverse(t.ne), true);
    },
    async readTernary(name): Promise<TernaryTensor> {
      const t = info(name);
      if (t.ne.length !== 2 || (t.type !== 'I2_S' && t.type !== 'TQ1_0' && t.type !== 'TQ2_0')) {
        throw new TrineError('UNSUPPORTED', `${name} (${t.type} [${t.ne.join(', ')}]) is not a ternary matrix`, { field: name });
      }
      const tt = ternaryFromGguf(name, t.type, t.ne[1]!, t.ne[0]!, await g.readTensor(t), t.fileOffset);
      // llama.cpp's `bitnet` multiplies a projection's output by its optional `.scale` tensor: fold it in.
      const scaleInfo = name.endsWith('.weight') ? g.tensor(name.slice(0, -'.weight'.length) + '.scale') : undefined;
      if (!scaleInfo) return tt;
      const s = floatBytesToF32('F32', await g.readTensor(scaleInfo), 1)[0]!;
      if (!Number.isFinite(s)) throw invalidModelFile(scaleInfo.name, scaleInfo.fileOffset, `scale ${s} is not finite`);
      return { ...tt, scales: tt.scales.map((x) => Math.fround(x * s)) };
    },
    close: () => g.close(),
  };
}
