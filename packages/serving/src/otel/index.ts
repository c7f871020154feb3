/** `@trine/serving/otel`: the serving processes' OpenTelemetry SDK bootstrap (kept apart from the main entry so
 *  loading it pulls in no instrumented module: grpc-js and ioredis must load after the instrumentations are registered). */
export { startTelemetry, parseListen, type Telemetry, type TelemetryOptions } from './sdk.js';
export { activeTelemetry, type TelemetryHandle } from '@trine/telemetry';
