import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export * from './gen/trine/v1/inference.js';

/** Directory holding `trine/v1/*.proto` (for proto-loader, e.g. server reflection). Same from src/ and dist/. */
export const protoRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Path of the inference .proto relative to `protoRoot`. */
export const inferenceProtoFile = 'trine/v1/inference.proto';
