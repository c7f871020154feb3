/**
 * Structured JSON logs, one object per line, carrying the active span's trace_id/span_id so a log line leads to
 * its trace. Field names follow the OTel log data model's spelling (trace_id, span_id).
 */
import { trace } from '@opentelemetry/api';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  (msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Where a line goes (default: stdout). */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

/** The trace/span ids of the active span, when there is a valid one. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

function safeJson(o: Record<string, unknown>): string {
  try {
    return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v));
  } catch {
    return JSON.stringify({ time: o.time, level: o.level, svc: o.svc, msg: o.msg, log_error: 'unserializable fields' });
  }
}

/** A logger for service `svc`. Calling it directly logs at info (the shape the apps' `log(msg, fields)` had). */
export function createLogger(svc: string, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void =>
    write(safeJson({ time: now().toISOString(), level, svc, msg, ...fields, ...traceFields() }));
  const log = ((msg: string, fields?: Record<string, unknown>) => emit('info', msg, fields)) as Logger;
  log.debug = (m, f) => emit('debug', m, f);
  log.info = (m, f) => emit('info', m, f);
  log.warn = (m, f) => emit('warn', m, f);
  log.error = (m, f) => emit('error', m, f);
  return log;
}
