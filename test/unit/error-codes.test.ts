import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INTERNAL_ERROR_CODES, LIBRARY_ERROR_CODES } from '../../src/common/error-codes.js';
import * as root from '../../src/entry/index.js';
import { typecheckSnippet } from '../support/doc-snippet.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOC = join(ROOT, 'docs/errors.md');
const text = readFileSync(DOC, 'utf8');

/** The catalogue rows under a heading: `| `CODE` | `Class` | meaning | what to do |`. */
function rowsUnder(heading: string): Array<{ code: string; className: string }> {
  const section = text.slice(text.indexOf(`## ${heading}`)).split(/\n## /)[0] ?? '';
  return [...section.matchAll(/^\| `([A-Z_]+)` \| `(\w+)` \|/gm)].map(([, code, className]) => ({ code: code ?? '', className: className ?? '' }));
}

describe('docs/errors.md, the error catalogue', () => {
  it('lists every code an app can receive, once, in the order of src/common/error-codes.ts', () => {
    expect(rowsUnder('What an app can receive').map((row) => row.code)).toEqual([...LIBRARY_ERROR_CODES]);
  });

  it('lists every other code, once, in the order of src/common/error-codes.ts', () => {
    expect(rowsUnder('Inside the library, the worker and the CLI').map((row) => row.code)).toEqual([...INTERNAL_ERROR_CODES]);
  });

  it('names, for each code an app can receive, a RotationRelayError class the root entry point exports', () => {
    const exported = root as Record<string, unknown>;
    for (const { code, className } of rowsUnder('What an app can receive')) {
      const value = exported[className];
      expect(typeof value, `${code}: ${className} is exported by src/entry/index.ts`).toBe('function');
      expect((value as { prototype: unknown }).prototype, `${code}: ${className}`).toBeInstanceOf(root.RotationRelayError);
    }
  });

  it('shows an example that type-checks, strict, against the public API', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();

    expect(() => typecheckSnippet(block ?? '')).not.toThrow();
  }, 60_000);

  it('links only to files that exist', () => {
    for (const [, target] of text.matchAll(/\]\(([^)\s#]+)[^)]*\)/g)) expect(existsSync(resolve(dirname(DOC), target ?? '')), target).toBe(true);
  });
});
