/** Back-pressure for the fronts' streams (a gRPC call, an HTTP response). */

interface Drainable {
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/** Resolves when `stream` drains — or when `gone` aborts, since no drain ever comes for a client that left. */
export function drained(stream: Drainable, gone: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      gone.removeEventListener('abort', done);
      resolve();
    };
    stream.once('drain', done);
    gone.addEventListener('abort', done, { once: true });
  });
}
