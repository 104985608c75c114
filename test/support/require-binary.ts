import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Returns the absolute path of executable `name` (looked up on PATH unless already absolute),
 * or throws `Error("<name> not found on PATH: install it with `<installHint>`")`.
 *
 * Why: integration tests run against real services. A missing binary must fail the run loudly
 * and say what to install; it must never make tests skip silently (DESIGN.md, Testing strategy).
 *
 * @param installHint the command that installs it, e.g. `apt-get install redis-server`.
 */
export function requireBinary(name: string, installHint: string): string {
  const found = findExecutable(name);
  if (found === undefined) {
    throw new Error(`${name} not found on PATH: install it with \`${installHint}\``);
  }
  return found;
}

/** Absolute path of an executable on PATH (or `name` itself if absolute and executable). */
export function findExecutable(name: string): string | undefined {
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, name));
  return candidates.find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
