import { describeConformance } from '@trine/conformance/vitest';
import { createCpuBackend, loadNative } from '../src/index.js';

// Every kernel case against the reference backend (integers exactly, floats by each case's NMSE), once per code
// path this host can run. The scalar path skips the real-2B4T-shape cases to keep the suite fast.
const host = loadNative().hostInfo();
const paths: [string, boolean][] = [
  ['avx512', host.avx512vnni],
  ['avx2', host.avx2],
  ['i8mm', host.best === 'i8mm'],
  ['dotprod', host.neonDot],
  ['neon', host.built.includes('neon')],
  ['scalar', true],
];
for (const [variant, runs] of paths) {
  if (!runs) continue;
  describeConformance(`cpu ${variant}`, () => createCpuBackend({ variant, threads: 2 }), {
    requireSupport: true,
    large: variant !== 'scalar',
  });
}
