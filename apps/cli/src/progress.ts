/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (never into logs or pipes), and only once
 * loading has taken `delayMs` (a small file loads without flashing a bar).
 */
export interface ProgressBar {
  update(done: number, total: number, label?: string): void;
  end(): void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr, minIntervalMs = 100, delayMs = 300): ProgressBar {
  if (!stream.isTTY) return { update() {}, end() {} };
  let last = 0;
  let drawn = false;
  const started = Date.now();
  return {
    update(done, total, label = 'loading') {
      const t = Date.now();
      if (t - started < delayMs) return;
      if (t - last < minIntervalMs && done < total) return;
      last = t;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const filled = Math.round(frac * width);
      const mb = (n: number): string => (n / 1e6).toFixed(1);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(total)} MB`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
