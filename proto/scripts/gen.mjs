// Regenerates src/gen from trine/**/*.proto with buf + the local ts-proto plugin (offline, no grpc-tools).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'src/gen'), { recursive: true, force: true });
const buf = join(root, 'node_modules/.bin/buf');
execFileSync(buf, ['lint'], { cwd: root, stdio: 'inherit' });
execFileSync(buf, ['generate'], { cwd: root, stdio: 'inherit' });
