import { Writable } from 'node:stream';
import { createLogger, type PinoLogger } from '../../src/common/logger.js';
import { recordOutput } from './leak-guard.js';

/** A real pino logger whose lines are kept in memory, parsed, for assertions and leak scans. */
export interface CapturedLogger {
  logger: PinoLogger;
  /** Every raw line written so far. */
  lines(): string[];
  /** Lines parsed as JSON. */
  records(): Array<Record<string, unknown>>;
}

export function captureLogger(base: Record<string, unknown> = {}, level = 'debug'): CapturedLogger {
  const lines: string[] = [];
  const source = `captureLogger ${JSON.stringify(base)}`;
  let pending = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (line.length === 0) continue;
        lines.push(line);
        recordOutput(source, line); // the secret-leak guard scans it at the end of the file
      }
      callback();
    },
  });
  const logger = createLogger({ level, base, destination });
  return {
    logger,
    lines: () => [...lines],
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** One parsed log line. */
export type LogLine = Record<string, unknown>;

export interface CapturedLogs {
  /** A real pino logger (redaction and all, from `createLogger`) writing into memory. */
  logger: PinoLogger;
  /** Every line written so far, parsed; a line that is not whole JSON fails the test here. */
  lines(): LogLine[];
  /** Only the EMF lines (`msg: 'emf'`). */
  emfLines(): LogLine[];
}

/**
 * {@link captureLogger} at `info` by default, for the metrics suites: the EMF lines apart. pino
 * writes to the stream synchronously, so a line is readable as soon as the log call returns.
 */
export function captureLogs(options: { level?: string } = {}): CapturedLogs {
  const captured = captureLogger({}, options.level ?? 'info');
  return { logger: captured.logger, lines: captured.records, emfLines: () => captured.records().filter((line) => line['msg'] === 'emf') };
}
