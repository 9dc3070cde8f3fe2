import type { LogLevel } from '../../../shared/domain/jobs';
import { redactValue, redactText } from './redact';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LogRecord {
  time: string;
  level: LogLevel;
  message: string;
  [field: string]: unknown;
}

export type LogSink = (record: LogRecord) => void;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A structured logger: one JSON-serialisable record per call, every field and the message
 * passed through redaction before any sink sees it.
 */
export function createLogger(sink: LogSink, options: { level?: LogLevel; base?: LogFields } = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const base = options.base ?? {};
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    const safe = redactValue({ ...base, ...(fields ?? {}) }) as LogFields;
    sink({ ...safe, time: new Date().toISOString(), level, message: redactText(message) });
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(sink, { level: options.level ?? 'info', base: { ...base, ...fields } }),
  };
}

/** A sink writing JSON lines to a stream-like writer (a file, stderr). */
export function jsonLinesSink(write: (line: string) => void): LogSink {
  return (record) => write(`${JSON.stringify(record)}\n`);
}

export const silentLogger: Logger = createLogger(() => undefined);
