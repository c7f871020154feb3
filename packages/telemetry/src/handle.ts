/** The process's telemetry handle, shared through globalThis (the bootstrap's module copy and the app's may differ). */
export interface TelemetryHandle {
  /** Exports what is buffered (call before exiting). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const HANDLE = Symbol.for('trine.telemetry');
type Global = { [HANDLE]?: TelemetryHandle };

/** The telemetry the bootstrap started, if any (importing this loads no SDK). */
export function activeTelemetry<T extends TelemetryHandle = TelemetryHandle>(): T | undefined {
  return (globalThis as Global)[HANDLE] as T | undefined;
}

export function setActiveTelemetry(t: TelemetryHandle): void {
  (globalThis as Global)[HANDLE] = t;
}
