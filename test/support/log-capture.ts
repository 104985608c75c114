import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logging/logger.js';

/** A real pino logger whose lines are kept in memory, parsed, for assertions and leak scans. */
export interface CapturedLogger {
  logger: Logger;
  /** Every raw line written so far. */
  lines(): string[];
  /** Lines parsed as JSON. */
  records(): Array<Record<string, unknown>>;
}

export function captureLogger(base: Record<string, unknown> = {}, level = 'debug'): CapturedLogger {
  const lines: string[] = [];
  let pending = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts.filter((line) => line.length > 0));
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
