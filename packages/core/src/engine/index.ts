export { Engine, ENGINE_DEFAULTS, type EngineConfig, type EngineLoadOptions, type EngineStats, type LoadProgress, type StepModel } from './engine.js';
export { tokenizeText } from './tokenize.js';
