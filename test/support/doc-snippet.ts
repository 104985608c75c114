import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Type-checks a TypeScript snippet from the docs the way a user would compile it (strict,
 * NodeNext), with `from 'rotation-relay'` pointed at src/index.ts instead of the built package.
 * Throws with tsc's output when it does not compile.
 */
export function typecheckSnippet(code: string): void {
  const dir = mkdtempSync(join(ROOT, '.tmp-snippet-'));
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, `${code.replaceAll("from 'rotation-relay'", `from '${join(ROOT, 'src/index.js')}'`)}\nexport {};\n`);
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', file];
    execFileSync(process.execPath, [tsc, ...args], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
