import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Issue 14: users clone the repository alone. A fixture, sample or script read from beside the
 * checkout works on the machine that has it and fails everywhere else, so no tracked file may
 * name a path outside the checkout.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const CODE = /\.(ts|mts|mjs|js|cjs|py|sh)$/;
const TEXT = /\.(ts|mts|mjs|js|cjs|py|sh|md|json|ya?ml|toml|txt)$|(^|\/)(Dockerfile|run)$/;

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter((file) => file && TEXT.test(file) && file !== 'package-lock.json');
}

/** Relative paths in string literals of code: `'../x'`, `"../../y"`, `` `../z` ``. */
function relativeLiterals(text: string): string[] {
  return [...text.matchAll(/['"`]((?:\.\.\/)+[^'"`\s$]*)['"`]/g)].map((m) => m[1] ?? '');
}

/** Where a literal points: from the file's folder, or from the checkout for process-relative paths. */
function escapes(file: string, literal: string): boolean {
  const fromFile = resolve(dirname(join(ROOT, file)), literal);
  const inside = (path: string): boolean => path === ROOT.replace(/\/$/, '') || path.startsWith(ROOT.endsWith(sep) ? ROOT : `${ROOT}${sep}`);
  // `new URL('../..', import.meta.url)` resolves from the file; fs calls with a bare relative path
  // resolve from the working directory (the checkout). Outside from both is outside for sure.
  return !inside(fromFile) && !inside(resolve(ROOT, literal));
}

describe('the repository stands alone', () => {
  const files = trackedFiles();

  it('finds the tracked files it checks (git ls-files in the checkout)', () => {
    expect(files).toContain('package.json');
    expect(files.filter((file) => file.startsWith('test/')).length).toBeGreaterThan(50);
  });

  it('no tracked file names the shared/ folder beside the checkout', () => {
    const offenders = files.filter((file) => /(^|[^\w/.-])\.\.\/(\.\.\/)*shared\b/.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('no relative path in source, test, bench or script code climbs out of the checkout', () => {
    const offenders = files
      .filter((file) => CODE.test(file))
      .flatMap((file) => relativeLiterals(readFileSync(join(ROOT, file), 'utf8')).filter((literal) => escapes(file, literal)).map((literal) => `${file}: ${literal}`));
    expect(offenders).toEqual([]);
  });

  it('no tracked file names an absolute path of the machine it was written on', () => {
    const checkout = ROOT.replace(/\/$/, '');
    const machinePaths = [checkout, join(dirname(checkout), 'shared')];
    const offenders = files.filter((file) => machinePaths.some((path) => readFileSync(join(ROOT, file), 'utf8').includes(path)));
    expect(offenders).toEqual([]);
  });
});
