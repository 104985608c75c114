import { spawnSync } from 'node:child_process';
import { findExecutable } from './require-binary.js';

/**
 * Returns the path of `binary`, installing Debian package `pkg` first when it is missing and
 * this process may (root, apt-get present); otherwise throws naming the command to run.
 *
 * Why: CI starts from a clean clone on a machine that has Debian's registry but not every tool a
 * test checks with (docker-compose, say). Installing it is part of the test's setup, like
 * starting a private redis-server; a tool that cannot be had fails the run loudly, never skips.
 */
export function ensureDebianPackage(binary: string, pkg: string): string {
  const found = findExecutable(binary);
  if (found) return found;
  const hint = `apt-get update && apt-get install -y ${pkg}`;
  if (process.getuid?.() !== 0 || !findExecutable('apt-get')) throw new Error(`${binary} not found on PATH: install it with \`${hint}\``);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', pkg]]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 300_000 });
    if (result.status !== 0) throw new Error(`${binary} not found on PATH and \`apt-get ${args.join(' ')}\` failed: ${`${result.stdout}${result.stderr}`.trim().slice(-2_000)}; install it with \`${hint}\``);
  }
  const installed = findExecutable(binary);
  if (!installed) throw new Error(`apt-get installed ${pkg} but ${binary} is still not on PATH`);
  return installed;
}
