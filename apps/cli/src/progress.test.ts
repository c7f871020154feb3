import { describe, expect, it } from 'vitest';
import { progressBar } from './progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('progressBar', () => {
  it('draws percentage and megabytes on a terminal, and clears the line at the end', () => {
    const { stream, written } = fakeStream(true);
    const bar = progressBar(stream, 0, 0);
    bar.update(50e6, 100e6);
    bar.update(100e6, 100e6);
    expect(written[0]).toContain(' 50% 50.0/100.0 MB');
    expect(written[1]).toContain('100%');
    bar.end();
    expect(written.at(-1)).toBe('\r\x1b[K');
  });

  it('writes nothing when stderr is not a terminal, or before the delay has passed', () => {
    const pipe = fakeStream(false);
    const bar = progressBar(pipe.stream, 0, 0);
    bar.update(1, 2);
    bar.end();
    expect(pipe.written).toEqual([]);
    const tty = fakeStream(true);
    const slow = progressBar(tty.stream, 0, 60_000);
    slow.update(1, 2);
    slow.end();
    expect(tty.written).toEqual([]);
  });
});
