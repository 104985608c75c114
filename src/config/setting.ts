import { readBool, readEnum, readInt, readOptionalString, readRequiredString, readString, type Env, type StringCheck } from './read-env.js';

/**
 * One environment variable, declared once: its name, its default as users read it, what it does,
 * and how it is read. The README's configuration table is generated from these declarations
 * (`npm run docs:config`), so the documented default can never drift from the real one.
 */
export interface Setting<T> {
  readonly name: string;
  /** The default as shown in the docs; `undefined` means required (or simply unset). */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  readonly doc: string;
  read(env: Env): T;
}

export function intSetting(name: string, fallback: number, min: number, max: number, doc: string): Setting<number> {
  return { name, defaultText: String(fallback), required: false, doc, read: (env) => readInt(env, name, fallback, min, max) };
}

export function boolSetting(name: string, fallback: boolean, doc: string): Setting<boolean> {
  return { name, defaultText: String(fallback), required: false, doc, read: (env) => readBool(env, name, fallback) };
}

export function stringSetting(name: string, fallback: string, doc: string, pattern?: RegExp, expected?: string, check?: StringCheck): Setting<string> {
  return { name, defaultText: fallback, required: false, doc, read: (env) => readString(env, name, fallback, pattern, expected, check) };
}

export function optionalSetting(name: string, doc: string, pattern?: RegExp, expected?: string, check?: StringCheck): Setting<string | undefined> {
  return { name, defaultText: undefined, required: false, doc, read: (env) => readOptionalString(env, name, pattern, expected, check) };
}

export function requiredSetting(name: string, doc: string, pattern: RegExp, expected: string, check?: StringCheck): Setting<string> {
  return { name, defaultText: undefined, required: true, doc, read: (env) => readRequiredString(env, name, pattern, expected, check) };
}

export function enumSetting<const T extends readonly [string, ...string[]]>(
  name: string,
  values: T,
  fallback: T[number],
  doc: string,
): Setting<T[number]> {
  return { name, defaultText: fallback, required: false, doc: `${doc} One of: ${values.join(', ')}.`, read: (env) => readEnum(env, name, values, fallback) };
}
