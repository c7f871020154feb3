import { TrineError } from '../../errors/index.js';
import type { ModelSource } from '../../model/config.js';
import { f32ToBf16 } from '../../quant/f16.js';
import { decodeTernaryCodes } from '../../quant/ternary.js';
import { type SafetensorsWriteTensor, writeSafetensors } from '../safetensors/index.js';
import { ggufToHfName, weightScaleName } from './names.js';
import { packHfTernary } from './packing.js';
import { hfJsonFromTokenizerSpec } from './tokenizer.js';

export interface HfWriteOptions {
  /** dtype of each `weight_scale` (the 2B4T checkpoint uses BF16; F32 keeps 1/scale closest). Default F32. */
  weightScaleDtype?: 'F32' | 'BF16';
}

/**
 * Write a ModelSource as a Hugging Face BitNet directory (config.json, model.safetensors with packed uint8
 * projections + weight_scale, tokenizer.json, tokenizer_config.json), so tests can load real HF directories
 * holding the same weights as a GGUF. Ternary tensors need one scale per tensor (I2_S, or TQ blocks all equal).
 */
export async function writeHfDirectory(dir: string, model: ModelSource, options: HfWriteOptions = {}): Promise<void> {
  const fs = await import('node:fs/promises');
  const c = model.config;
  const tensors: SafetensorsWriteTensor[] = [];
  for (const t of model.tensors) {
    const hf = ggufToHfName(t.name);
    if (!hf) continue;
    if (t.type === 'I2_S' || t.type === 'TQ1_0' || t.type === 'TQ2_0' || t.type === 'U8_PACKED') {
      const tt = await model.readTernary(t.name);
      const s = tt.scales[0]!;
      if (!tt.scales.every((x) => x === s)) throw new TrineError('UNSUPPORTED', `${t.name}: per-block scales cannot be written as one weight_scale`, { field: t.name });
      if (tt.rows % 4 !== 0) throw new TrineError('UNSUPPORTED', `${t.name}: ${tt.rows} rows is not a multiple of 4`, { field: t.name });
      tensors.push({ name: hf, dtype: 'U8', shape: [tt.rows / 4, tt.cols], data: packHfTernary(decodeTernaryCodes(tt), tt.rows, tt.cols) });
      const ws = 1 / s;
      const data = options.weightScaleDtype === 'BF16'
        ? new Uint8Array(Uint16Array.of(f32ToBf16(ws)).buffer)
        : new Uint8Array(Float32Array.of(ws).buffer);
      tensors.push({ name: weightScaleName(hf), dtype: options.weightScaleDtype ?? 'F32', shape: [1], data });
    } else if (t.shape.length === 2) {
      const m = await model.readMatrix(t.name);
      tensors.push({ name: hf, dtype: m.dtype === 'f16' ? 'F16' : 'F32', shape: m.shape, data: new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength) });
    } else {
      const v = await model.readF32(t.name);
      tensors.push({ name: hf, dtype: 'F32', shape: v.shape, data: new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength) });
    }
  }
  const { tokenizer, tokenizerConfig } = hfJsonFromTokenizerSpec(model.tokenizer);
  const config = {
    architectures: ['BitNetForCausalLM'],
    model_type: 'bitnet',
    hidden_act: c.activation,
    hidden_size: c.hidden,
    intermediate_size: c.ffn,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    vocab_size: c.vocab,
    max_position_embeddings: c.context,
    rms_norm_eps: c.rmsEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: !model.hasTensor('output.weight'),
    bos_token_id: model.tokenizer.bosId ?? null,
    eos_token_id: model.tokenizer.eosId ?? null,
    quantization_config: { quant_method: 'bitnet', linear_class: 'bitlinear', quantization_mode: 'offline' },
  };
  await fs.mkdir(dir, { recursive: true });
  const join = (f: string) => `${dir.replace(/\/+$/, '')}/${f}`;
  await fs.writeFile(join('config.json'), JSON.stringify(config, null, 2));
  await fs.writeFile(join('tokenizer.json'), JSON.stringify(tokenizer));
  await fs.writeFile(join('tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  await fs.writeFile(join('model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
}
