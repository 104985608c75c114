import type { z } from 'zod';
import { describeValue } from './text.js';

/**
 * Turns the first zod issue into one sentence that names the field and what was expected, e.g.
 * `detail.labelUpdated must be a non-empty string, got a number`. zod's own messages do not name
 * the field, and a DLQ'd message is debugged from this sentence alone.
 */
export function describeIssue(error: z.ZodError, input: unknown, prefix = ''): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix || 'value'} is invalid`;
  const field = formatPath(prefix, issue.path);
  const got = describeValue(valueAt(input, issue.path));
  if (issue.code === 'invalid_type' && issue.expected === 'nonoptional') return `${field} is missing`;
  if (issue.code === 'invalid_type') return `${field} must be ${article(issue.expected)}, got ${got}`;
  if (issue.code === 'too_small' && issue.origin === 'string') return `${field} must be a non-empty string, got ${got}`;
  // The value is not echoed: an oversized one is exactly what must not reach a log line.
  if (issue.code === 'too_big' && issue.origin === 'string') return `${field} is ${lengthAt(input, issue.path)} characters, more than the ${String(issue.maximum)} allowed`;
  if (issue.code === 'too_big' && issue.origin === 'array') return `${field} has ${lengthAt(input, issue.path)} entries, more than the ${String(issue.maximum)} allowed`;
  if (issue.code === 'invalid_format' || issue.code === 'custom') return `${field} ${issue.message}, got ${got}`;
  return `${field} is invalid (${issue.message}), got ${got}`;
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? 'body' : out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function lengthAt(input: unknown, path: readonly PropertyKey[]): number {
  const value = valueAt(input, path);
  return typeof value === 'string' || Array.isArray(value) ? value.length : 0;
}

function article(expected: string): string {
  if (expected === 'record') return 'an object';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
