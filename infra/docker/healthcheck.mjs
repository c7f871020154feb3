// Container HEALTHCHECK: one grpc.health.v1.Health/Check call, exit 0 only on SERVING.
// Usage: node healthcheck.mjs <host:port> [service]. Messages are encoded by hand (one string field in,
// one enum field out), so only @grpc/grpc-js is needed, which both images already carry.
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';

const [address = '127.0.0.1:50051', service = ''] = process.argv.slice(2);
const SERVING = 1;

function encodeRequest(name) {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 127) throw new Error('service name too long for this probe');
  return bytes.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

function decodeStatus(buf) {
  // HealthCheckResponse { ServingStatus status = 1; }: tag 0x08 then a one-byte varint (values 0..3).
  return buf.length >= 2 && buf[0] === 0x08 ? buf[1] : 0;
}

const Client = makeGenericClientConstructor({}, 'Health');
const client = new Client(address, credentials.createInsecure());
client.makeUnaryRequest(
  '/grpc.health.v1.Health/Check',
  encodeRequest,
  decodeStatus,
  service,
  { deadline: Date.now() + 3000 },
  (err, status) => {
    client.close();
    if (err) {
      console.error(`health ${address} '${service}': ${err.message}`);
      process.exit(1);
    }
    console.log(`health ${address} '${service}': ${status === SERVING ? 'SERVING' : `status ${status}`}`);
    process.exit(status === SERVING ? 0 : 1);
  },
);
