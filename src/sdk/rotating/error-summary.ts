/** Name, code and message only: never the error object, whose fields may echo a config. */
export function errorSummary(err: unknown): { name?: string; code?: unknown; message: string } {
  if (err instanceof Error) return { name: err.name, code: (err as { code?: unknown }).code, message: err.message };
  return { message: String(err) };
}
