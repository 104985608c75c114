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
