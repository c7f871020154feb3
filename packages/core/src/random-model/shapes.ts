/**
 * Shapes of real BitNet-class models, for random models at full size (bench, gpu-check). All use bitnet.cpp's
 * `bitnet-b1.58` graph (2B4T: relu² gated FFN, sub-norms, tied F16 embeddings); the 1bitLLM-class shapes run it with MHA.
 */
export interface ModelShape {
  readonly name: string;
  readonly description: string;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly context: number;
  /** Why the shape departs from the model it is named after, if it does. */
  readonly note?: string;
}

export const MODEL_SHAPES: Readonly<Record<string, ModelShape>> = {
  tiny: { name: 'tiny', description: 'test shape (2B4T graph at toy size)', hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, vocab: 960, context: 512 },
  '700m': { name: '700m', description: '1bitLLM bitnet_b1_58-large class (MHA)', hidden: 1536, layers: 24, heads: 16, kvHeads: 16, ffn: 4096, vocab: 32002, context: 2048 },
  '2b4t': { name: '2b4t', description: 'BitNet b1.58 2B4T', hidden: 2560, layers: 30, heads: 20, kvHeads: 5, ffn: 6912, vocab: 128256, context: 4096 },
  '3b': {
    name: '3b', description: '1bitLLM bitnet_b1_58-3B class (MHA)', hidden: 3200, layers: 26, heads: 32, kvHeads: 32, ffn: 8704, vocab: 32002, context: 2048,
    note: 'FFN 8704 instead of 8640: I2_S and TQ2_0 rows must be a multiple of 128 / 256 weights',
  },
  '8b': { name: '8b', description: 'Llama-3-8B class (GQA)', hidden: 4096, layers: 32, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256, context: 8192 },
};
