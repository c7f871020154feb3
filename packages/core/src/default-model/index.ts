export {
  DEFAULT_MODEL_NAME,
  DEFAULT_MODEL_SEED,
  DEFAULT_MODEL_SHAPE,
  DEFAULT_MODEL_VERSION,
  buildDefaultModelBytes,
  defaultModelContents,
} from './build.js';
export { defaultCacheDir, defaultModelKey, ensureDefaultModel, type DefaultModelOptions } from './cache.js';
export { TRAINED_DEFAULT_MODEL_FILE, TRAINED_DEFAULT_MODEL_NAME, trainedDefaultModelPath } from './trained.js';
