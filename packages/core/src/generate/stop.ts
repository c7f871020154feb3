/**
 * Stop strings over a stream of decoded text. Text that could still become the start of a stop string is held
 * back, so a stop string is never emitted, not even in part, and a match split across tokens is still found.
 */
export interface StopStep {
  /** Text safe to emit now. */
  readonly text: string;
  /** A stop string completed: generation ends, and nothing from the stop string onward is ever emitted. */
  readonly stopped: boolean;
}

export class StopStringFilter {
  private readonly stops: readonly string[];
  private held = '';
  private done = false;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Adds decoded text; returns what may be emitted and whether a stop string completed. */
  push(text: string): StopStep {
    if (this.done) return { text: '', stopped: true };
    const buf = this.held + text;
    let cut = -1;
    for (const s of this.stops) {
      const at = buf.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    const keep = this.longestStopPrefixSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** At the end of generation: the held-back text (it never completed a stop string). */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  private longestStopPrefixSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let len = Math.min(s.length - 1, buf.length); len > best; len--) {
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
