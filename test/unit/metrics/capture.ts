import { Writable } from 'node:stream';
import { createLogger, type PinoLogger } from '../../../src/common/logger.js';

export type LogLine = Record<string, unknown>;

export interface CapturedLogs {
  /** A real pino logger (redaction and all, from `createLogger`) writing into `stream`. */
  logger: PinoLogger;
  /** Every line written so far, parsed; a line that is not whole JSON fails the test here. */
  lines(): LogLine[];
  /** Only the EMF lines (`msg: 'emf'`). */
  emfLines(): LogLine[];
}

/**
 * A real `node:stream` Writable that collects what pino writes. Its write callback is called
 * synchronously, so a line is readable as soon as the log call returns.
 */
export function captureLogs(options: { level?: string } = {}): CapturedLogs {
  let text = '';
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const logger = createLogger({ level: options.level ?? 'info', destination: stream });
  const lines = (): LogLine[] =>
    text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as LogLine);
  return { logger, lines, emfLines: () => lines().filter((line) => line.msg === 'emf') };
}
