/** JSON.parse without exceptions: parsing is a normal way for a body to fail, not an error. */
export type JsonParse = { ok: true; value: unknown } | { ok: false };

export function tryParseJson(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
