/** `pnpm start`: gateway + worker in one process, no Redis, on the embedded default model (or TRINE_MODEL). */
import { runMain, startStandalone } from './launch.js';

runMain('trine', startStandalone);
