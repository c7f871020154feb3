import type { EngineRequest, SamplingParams } from '@trine/core';
import { describe, expect, it } from 'vitest';
import { cacheKey } from './cache.js';

const sampling: SamplingParams = { maxTokens: 8, temperature: 0.7, topP: 1, topK: 0, repetitionPenalty: 1, seed: 3, stop: [], topLogprobs: 0 };
const key = (over: Partial<SamplingParams> = {}, extra: Partial<EngineRequest> = {}) => cacheKey('m', { prompt: 'p', sampling: { ...sampling, ...over }, ...extra } as EngineRequest, true);

describe('cacheKey', () => {
  it('differs for every control that can change the output', () => {
    const variants: [string, string][] = [
      ['min_p', key({ minP: 0.1 })],
      ['typical_p', key({ typicalP: 0.9 })],
      ['presence_penalty', key({ presencePenalty: 0.5 })],
      ['frequency_penalty', key({ frequencyPenalty: 0.5 })],
      ['logit_bias', key({ logitBias: { 5: 1 } })],
      ['logit_bias value', key({ logitBias: { 5: 2 } })],
      ['ignore_eos', key({ ignoreEos: true })],
      ['json_object', key({ responseFormat: { type: 'json_object' } })],
      ['json_schema', key({ responseFormat: { type: 'json_schema', schema: { type: 'object' } } })],
      ['another schema', key({ responseFormat: { type: 'json_schema', schema: { type: 'array' } } })],
      ['regex', key({ responseFormat: { type: 'regex', pattern: 'a+' } })],
      ['grammar', key({ responseFormat: { type: 'grammar', grammar: 'root ::= "a"' } })],
      ['prompt_lookup', key({}, { promptLookup: 4 })],
    ];
    const keys = new Set([key(), ...variants.map(([, k]) => k)]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it('is the same for the same meaning: neutral values spelled out, logit_bias in another order', () => {
    expect(key({ minP: 0, typicalP: 1, presencePenalty: 0, frequencyPenalty: 0, logitBias: {}, ignoreEos: false, responseFormat: { type: 'text' } })).toBe(key());
    expect(key({ logitBias: { 9: 1, 2: -1 } })).toBe(key({ logitBias: { 2: -1, 9: 1 } }));
    // Through Redis the ids are strings; the key does not change.
    expect(key({ logitBias: JSON.parse('{"9": 1}') as Record<number, number> })).toBe(key({ logitBias: { 9: 1 } }));
  });
});
