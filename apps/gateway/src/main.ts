/** `pnpm start:gateway`: the distributed gateway (needs REDIS_URL; workers run apart). */
import { runMain, startDistributedGateway } from './launch.js';

runMain('trine-gateway', startDistributedGateway);
