import { chown, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerCleanup } from './cleanup-registry.js';

/** A private temporary directory that is removed on `remove()` or, at the latest, on exit. */
export interface TempDir {
  readonly path: string;
  remove(): Promise<void>;
}

/**
 * Creates `$TMPDIR/<prefix>XXXXXX` (mode 0700), optionally chowned to another OS user.
 *
 * Why: each service instance keeps its data, config, sockets and log in its own directory so
 * parallel test files never share state, and nothing is left in /tmp after the run.
 * `owner` exists for PostgreSQL, whose initdb/postgres refuse to run as root.
 */
export async function createTempDir(
  prefix: string,
  owner?: { uid: number; gid: number },
): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const unregister = registerCleanup(`remove ${path}`, () =>
    rmSync(path, { recursive: true, force: true, maxRetries: 3 }),
  );
  if (owner) await chown(path, owner.uid, owner.gid);
  return {
    path,
    async remove() {
      unregister();
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
