import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The source file behind each entry point of package.json's "exports" (`rotation-relay` →
 * src/entry/index.js, `rotation-relay/pg` → src/entry/pg.js, …), read from package.json itself so a
 * new entry point is mapped without touching this file. TypeScript maps the `.js` to the `.ts`.
 */
function entrySources(): Map<string, string> {
  const { name, exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { import: string }> };
  const sources = new Map<string, string>();
  for (const [subpath, target] of Object.entries(exports)) {
    const specifier = subpath === '.' ? name : `${name}/${subpath.replace(/^\.\//, '')}`;
    sources.set(specifier, join(ROOT, target.import.replace(/^\.\/dist\//, 'src/')));
  }
  return sources;
}

/** `code` with every `from 'rotation-relay…'` pointed at the entry point's source file. */
export function pointAtSources(code: string): string {
  const sources = entrySources();
  return code.replace(/from '(rotation-relay(?:\/[a-z-]+)?)'/g, (whole, specifier: string) => {
    const source = sources.get(specifier);
    if (source === undefined) throw new Error(`${specifier} is not an entry point of package.json's "exports"`);
    return `from '${source}'`;
  });
}

/**
 * Type-checks a TypeScript snippet from the docs the way a user would compile it (strict,
 * NodeNext), with `from 'rotation-relay'` and its subpaths (`rotation-relay/pg`, …) pointed at
 * their sources under src/ instead of the built package (see {@link pointAtSources}).
 * Throws with tsc's output when it does not compile.
 */
export function typecheckSnippet(code: string): void {
  const dir = mkdtempSync(join(ROOT, '.tmp-snippet-'));
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, `${pointAtSources(code)}\nexport {};\n`);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', file];
    execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
