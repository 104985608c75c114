import { pino, type Logger as PinoLogger, type LoggerOptions, type DestinationStream } from 'pino';

export type { PinoLogger };

/** One log method: a structured object first and a message (pino's order), or a message alone. */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What rotation-relay needs of a logger: four levels and child loggers, nothing more. pino's
 * logger (what {@link createLogger} builds) is one; so is an adapter over any other logging
 * library. Every field the SDK passes is safe to log (no secret value is ever in one); the
 * redaction of {@link createLogger} is a second line of defence, which an adapter should keep.
 */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * Paths pino censors wherever they appear in a log object. They are a safety net, not the
 * primary defence: code never puts a secret value in a log call in the first place. The list
 * covers the fields a Secrets Manager response, a parsed credential or a client option can
 * carry, one and two levels deep (pino's wildcards match one level each).
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'SecretString',
  'SecretBinary',
  'secret',
  'secretValue',
  'authToken',
  'token',
  'signingKey',
  'signingKeys',
  'accessKeySecret',
  'secretAccessKey',
  'AWS_SECRET_ACCESS_KEY',
  'ROTATION_RELAY_SIGNING_KEYS',
  '*.password',
  '*.SecretString',
  '*.SecretBinary',
  '*.secret',
  '*.secretValue',
  '*.authToken',
  '*.token',
  '*.signingKey',
  '*.signingKeys',
  '*.secretAccessKey',
  '*.*.password',
  '*.*.SecretString',
  '*.*.authToken',
];

export interface CreateLoggerOptions {
  /** Minimum level written. @defaultValue `'info'` */
  level?: string;
  /** Fields added to every line (e.g. `{ component: 'worker' }`). @defaultValue none */
  base?: Record<string, unknown>;
  /** Where lines go; tests pass a stream they read back. @defaultValue stdout */
  destination?: DestinationStream;
}

/** The one place loggers are built, so redaction is never forgotten. */
export function createLogger(options: CreateLoggerOptions = {}): PinoLogger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: 'rotation-relay', ...options.base },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** A logger that writes nothing: the default for library users who pass none. */
export function silentLogger(): PinoLogger {
  return pino({ level: 'silent' });
}
