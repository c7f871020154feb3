export { SPAN, ATTR, GEN_AI, METRIC, QUEUE_STATES } from './names.js';
export { genAiRequestAttributes, genAiResponseAttributes, genAiSpanName, type GenAiOperation, type GenAiRequest, type GenAiResponse } from './genai.js';
export { activeTelemetry, setActiveTelemetry, type TelemetryHandle } from './handle.js';
export { createLogger, traceFields, type Logger, type LoggerOptions, type LogLevel } from './logger.js';
export {
  requestInstruments,
  engineInstruments,
  observeCounts,
  observeQueue,
  observeBackend,
  observeEngine,
  observeProcess,
  type RequestInstruments,
  type EngineInstruments,
  type EngineCounters,
} from './instruments.js';
