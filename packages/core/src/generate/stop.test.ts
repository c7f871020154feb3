import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StopStringFilter } from './stop.js';

function expectedOutput(text: string, stops: string[]): { out: string; stopped: boolean } {
  let cut = -1;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? { out: text, stopped: false } : { out: text.slice(0, cut), stopped: true };
}

describe('StopStringFilter', () => {
  it('holds back a possible start and never emits the stop string split over chunks', () => {
    const f = new StopStringFilter(['</end>']);
    expect(f.push('hello </')).toEqual({ text: 'hello ', stopped: false });
    expect(f.push('en')).toEqual({ text: '', stopped: false });
    expect(f.push('d> more')).toEqual({ text: '', stopped: true });
    expect(f.flush()).toBe('');
  });

  it('releases held text when the prefix turns out not to be a stop string', () => {
    const f = new StopStringFilter(['STOP']);
    expect(f.push('ST').text).toBe('');
    expect(f.push('AY').text).toBe('STAY');
    expect(f.push('S').text).toBe('');
    expect(f.flush()).toBe('S');
  });

  it('stops at the earliest of several stop strings', () => {
    const f = new StopStringFilter(['bb', 'ab']);
    expect(f.push('xabb')).toEqual({ text: 'x', stopped: true });
  });

  it('for any text, stops and chunking: emitted text is always a prefix of the text before the first stop', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 40 }),
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 4 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 10 }),
        (text, stops, cuts) => {
          const points = [...new Set(cuts.filter((c) => c < text.length))].sort((a, b) => a - b);
          const chunks: string[] = [];
          let from = 0;
          for (const p of [...points, text.length]) {
            chunks.push(text.slice(from, p));
            from = p;
          }
          const want = expectedOutput(text, stops);
          const f = new StopStringFilter(stops);
          let emitted = '';
          let stopped = false;
          for (const c of chunks) {
            const step = f.push(c);
            emitted += step.text;
            expect(want.out.startsWith(emitted)).toBe(true);
            if (step.stopped) {
              stopped = true;
              break;
            }
          }
          emitted += f.flush();
          expect(emitted).toBe(want.out);
          expect(stopped).toBe(want.stopped);
        },
      ),
      { seed: 20261128, numRuns: 500 },
    );
  });
});
