export {
  BACKEND_NAMES,
  CATALOG,
  catalogEntry,
  createBackend,
  isBackendName,
  loadBackend,
  loadCatalog,
  packageVersions,
  threaded,
  type BackendName,
  type CatalogEntry,
  type ImportPackage,
  type LoadedBackend,
} from './catalog.js';
export { LM_HEAD_FORMATS, MAX_THREADS, backendSettings, parseBackendName, parseLmHead, parseThreads, type BackendSettings } from './env.js';
export { cpuModel, measurementFile, type BackendTrial, type CachedMeasurement, type MeasurementKey } from './cache.js';
export {
  chooseBackend,
  describeSelection,
  loadEngine,
  modelFingerprint,
  selectBackend,
  type OpenTrial,
  type SelectOptions,
  type Selection,
  type TrialEngine,
} from './select.js';
