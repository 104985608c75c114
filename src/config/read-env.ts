import { z } from 'zod';
import { ConfigError } from './errors.js';

/** The environment as a plain record; `process.env` by default, a literal object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * One environment variable: its zod schema, its default and the human form the error names.
 * Every reader below goes through here, so every bad value produces the same one-line error.
 *
 * A variable that is set but empty (or only spaces) is an error, never the default: it is how a
 * failed substitution looks (`ROTATION_RELAY_SIGNING_KEYS="$(cat missing-file)"`, an unset CI
 * variable), and reading it as unset silently turned signing off or connected to a Redis on
 * 127.0.0.1 that the user never started. Unset the variable to get the default.
 *
 * A schema may explain a refusal with a custom issue (`refine(…, { message })`); its message is
 * appended in parentheses, so it must not quote the value (it could be a password).
 */
export function readVar<T>(env: Env, name: string, schema: z.ZodType<T>, expected: string, whenUnset?: string): T {
  const raw = env[name];
  if (raw !== undefined && raw.trim() === '') {
    throw new ConfigError(name, `${expected} (it is set but empty${whenUnset ? `; unset it ${whenUnset}` : ''})`);
  }
  const value = raw?.trim();
  const result = schema.safeParse(value);
  if (!result.success) {
    const detail = result.error.issues.find((issue) => issue.code === 'custom')?.message;
    const why = value === undefined ? ' (it is not set)' : detail ? ` (${detail})` : '';
    throw new ConfigError(name, `${expected}${why}`, { cause: result.error });
  }
  return result.data;
}

/** The hint of an empty variable that has a default. */
const useDefault = (fallback: unknown): string => `to use the default, ${String(fallback)}`;

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const schema = z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? fallback);
  return readVar(env, name, schema, `a whole number from ${min} to ${max}`, useDefault(fallback));
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const schema = z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'on'].includes(v)));
  return readVar(env, name, schema, 'true or false', useDefault(fallback));
}

/**
 * What a string must also satisfy beyond its pattern: returns why it does not (never quoting the
 * value), or undefined when it is fine.
 */
export type StringCheck = (value: string) => string | undefined;

function stringSchema(pattern: RegExp | undefined, check: StringCheck | undefined): z.ZodType<string> {
  const base = pattern ? z.string().regex(pattern) : z.string();
  if (!check) return base;
  return base.superRefine((value, ctx) => {
    const problem = check(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

export function readString(env: Env, name: string, fallback: string, pattern?: RegExp, expected?: string, check?: StringCheck): string {
  const schema = stringSchema(pattern, check)
    .optional()
    .transform((v) => v ?? fallback);
  return readVar(env, name, schema, expected ?? 'a non-empty string', useDefault(fallback));
}

export function readOptionalString(env: Env, name: string, pattern?: RegExp, expected?: string, check?: StringCheck): string | undefined {
  return readVar(env, name, stringSchema(pattern, check).optional(), expected ?? 'a non-empty string', 'instead');
}

export function readRequiredString(env: Env, name: string, pattern: RegExp, expected: string, check?: StringCheck): string {
  return readVar(env, name, stringSchema(pattern, check), expected);
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
  return readVar(env, name, schema, `one of ${values.join(', ')}`, useDefault(fallback));
}
