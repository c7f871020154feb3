import { describe, expect, it } from 'vitest';
import { parseHardeningLine } from './hardening.js';

describe('parseHardeningLine', () => {
  it('turns the numeric figures of a HARDENING line into hardening results, keeping the backend', () => {
    const r = parseHardeningLine('HARDENING redis-restart: backend=wasm jobs=48 generate_p50_ms=3.1 generate_codes=UNAVAILABLE served_after=OK');
    expect(r.map((x) => [x.metric, x.value])).toEqual([
      ['redis-restart.jobs', 48],
      ['redis-restart.generate_p50_ms', 3.1],
    ]);
    expect(r.every((x) => x.suite === 'hardening' && x.backend === 'wasm')).toBe(true);
  });

  it('ignores lines that are not HARDENING figures', () => {
    expect(parseHardeningLine('{"msg":"worker ready"}')).toEqual([]);
    expect(parseHardeningLine('HARDENING: no scenario name')).toEqual([]);
  });
});
