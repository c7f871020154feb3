import { describe, expect, it } from 'vitest';
import { fetchLoops } from './worker-service.js';

describe('fetchLoops', () => {
  it('splits the batch over at most four BullMQ Workers, exactly and evenly', () => {
    for (let c = 1; c <= 70; c++) {
      const loops = fetchLoops(c);
      expect(loops.reduce((a, b) => a + b, 0)).toBe(c);
      expect(loops.length).toBe(Math.min(4, c));
      expect(Math.max(...loops) - Math.min(...loops)).toBeLessThanOrEqual(1);
      expect(Math.min(...loops)).toBeGreaterThanOrEqual(1);
    }
    expect(fetchLoops(32)).toEqual([8, 8, 8, 8]);
    expect(fetchLoops(6, 2)).toEqual([3, 3]);
  });
});
