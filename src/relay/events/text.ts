/**
 * Event strings echoed into `reason` end up in logs, metrics dimensions and the CLI output, and
 * they come from outside: strip control characters (no forged log lines) and cap their length.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point here
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** `value` on one line, whitespace collapsed, at most `max` characters (an ellipsis marks a cut). */
export function shortText(value: string, max = 120): string {
  const oneLine = value.replace(CONTROL_CHARS, ' ').replace(/\s+/g, ' ').trim();
  if (oneLine.length <= max) return oneLine;
  return `${oneLine.slice(0, Math.max(0, max - 1))}…`;
}

/** A short description of what a value is, for "expected X, got Y" reasons. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${shortText(value, 80)}"`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
