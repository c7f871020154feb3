import {
  BitNetModel,
  createTokenizer,
  modelWindowLogits,
  openModel,
  sequencePerplexity,
  trainedDefaultModelPath,
  type Handles,
  type KernelBackend,
} from '@trine/core';
import { TOL } from '../tolerances.js';
import type { CaseOutput, ConformanceCase, PreparedCase } from '../types.js';

/**
 * The real-weights case: Trine's shipped trained model (core's assets/trine-default.gguf, trained by training/) on a
 * passage of its held-out text. Random weights have none of a trained model's activation statistics (peaked
 * softmax, outlier channels), so this is the cross-backend model check on the numbers real text produces: the
 * logits of every row by NMSE, and the passage's perplexity within 0.1 % of the reference's (NMSE 1e-6 on one
 * number is a relative error of 1e-3).
 */

/** The first lines of a Brown sample in the held-out split (training/data/test.txt): never seen in training. */
const PASSAGE =
  "London, Feb. 9 -- Vital secrets of Britain's first atomic submarine, the Dreadnought, and, by implication, of the " +
  "entire United States navy's still-building nuclear sub fleet, were stolen by a London-based soviet spy ring, secret " +
  'service agents testified today.';

const PERPLEXITY_NMSE = 1e-6;

const trainedTextCase: ConformanceCase = {
  name: 'model/trained-default.i2_s.per_token.relu2/held-out-text/kv-f16',
  op: 'model',
  requires: [
    { op: 'embedding', format: 'f16' },
    { op: 'rmsNorm' },
    { op: 'add' },
    { op: 'quantizeActs', scheme: 'per_token' },
    { op: 'ternaryMatmul', scheme: 'per_token' },
    { op: 'rope' },
    { op: 'kvStore', dtype: 'f16' },
    { op: 'attention', dtype: 'f16' },
    { op: 'gatedActivation', act: 'relu2' },
    { op: 'lmHead', format: 'f16' },
  ],
  description: 'the shipped trained model on a held-out English passage in one step: logits of every row, and its perplexity',
  size: 'small',
  async prepare(backend: KernelBackend): Promise<PreparedCase> {
    const path = await trainedDefaultModelPath();
    if (path === undefined) throw new Error('the trained default model (core assets/trine-default.gguf) is not in this install');
    let outputs: CaseOutput[] = [];
    let model: BitNetModel<Handles> | undefined;
    return {
      async run() {
        model?.dispose();
        const source = await openModel(path);
        const ids = createTokenizer(source.tokenizer).encode(PASSAGE, { addBos: true });
        try {
          model = await BitNetModel.load(source, backend, { slots: 1, context: ids.length });
        } finally {
          await source.close();
        }
        const V = model.config.vocab;
        // One step over the whole passage; rows 0 … n−2 (each predicts the next token).
        const logits = await modelWindowLogits(model, backend)(Int32Array.from(ids), 0);
        outputs = [
          { name: 'logits', data: logits, check: { kind: 'nmse', max: TOL.modelLogits }, rowLength: V },
          { name: 'perplexity', data: Float32Array.of(sequencePerplexity(logits, ids, V)), check: { kind: 'nmse', max: PERPLEXITY_NMSE } },
        ];
      },
      async outputs() {
        return outputs;
      },
      async sync() {},
      dispose() {
        model?.dispose();
      },
    };
  },
};

export const trainedModelCases: ConformanceCase[] = [trainedTextCase];
