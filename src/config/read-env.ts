import { z } from 'zod';
import { ConfigError } from './errors.js';

/** The environment as a plain record; `process.env` by default, a literal object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * One environment variable: its zod schema, its default and the human form the error names.
 * Every reader below goes through here, so every bad value produces the same one-line error.
 */
export function readVar<T>(env: Env, name: string, schema: z.ZodType<T>, expected: string): T {
  const raw = env[name];
  const value = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(name, value === undefined ? `${expected} (it is not set)` : expected, {
      cause: result.error,
    });
  }
  return result.data;
}

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const schema = z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? fallback);
  return readVar(env, name, schema, `a whole number from ${min} to ${max}`);
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const schema = z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'on'].includes(v)));
  return readVar(env, name, schema, 'true or false');
}

export function readString(env: Env, name: string, fallback: string, pattern?: RegExp, expected?: string): string {
  const base = pattern ? z.string().regex(pattern) : z.string();
  const schema = base.optional().transform((v) => v ?? fallback);
  return readVar(env, name, schema, expected ?? 'a non-empty string');
}

export function readOptionalString(env: Env, name: string, pattern?: RegExp, expected?: string): string | undefined {
  const base = pattern ? z.string().regex(pattern) : z.string();
  return readVar(env, name, base.optional(), expected ?? 'a non-empty string');
}

export function readRequiredString(env: Env, name: string, pattern: RegExp, expected: string): string {
  return readVar(env, name, z.string().regex(pattern), expected);
}

export function readEnum<const T extends readonly [string, ...string[]]>(
  env: Env,
  name: string,
  values: T,
  fallback: T[number],
): T[number] {
  const schema = z
    .enum(values)
    .optional()
    .transform((v) => v ?? fallback);
  return readVar(env, name, schema, `one of ${values.join(', ')}`);
}
