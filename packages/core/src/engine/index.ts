export { Engine, ENGINE_DEFAULTS, MAX_PROMPT_LOOKUP, lookupDraft, type EngineRequest, type EngineConfig, type EngineLoadOptions, type EngineStats, type LoadProgress, type StepModel } from './engine.js';
export { tokenizeText, promptTokenIds } from './tokenize.js';
export { prefixBlockKeys } from './prefix-cache.js';
