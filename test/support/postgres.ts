import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withFreePort } from './free-port.js';
import { registerCleanup } from './cleanup-registry.js';
import { registerSecretValue } from './leak-guard.js';
import { findExecutable } from './require-binary.js';
import { runCommand, type RunOptions } from './run-command.js';
import { createTempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/** A private PostgreSQL cluster for one test file (TCP on loopback, scram-sha-256 everywhere). */
export interface PgHandle {
  host: '127.0.0.1';
  port: number;
  superuser: { user: 'postgres'; password: string };
  /** Fast shutdown, then removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install postgresql';

/**
 * The newest `/usr/lib/postgresql/<version>/bin` (Debian/Ubuntu layout, not on PATH), else the
 * directory of an `initdb` found on PATH (e.g. Homebrew). Throws with what to install otherwise.
 */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // not a Debian-style install
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (findExecutable(join(bin, 'initdb')) && findExecutable(join(bin, 'pg_ctl'))) return bin;
  }
  const initdb = findExecutable('initdb');
  if (initdb) return dirname(initdb);
  throw new Error(
    `PostgreSQL server binaries (initdb, pg_ctl) not found under ${root}/*/bin or on PATH: install them with \`${INSTALL_HINT}\``,
  );
}

/**
 * Creates and starts a throwaway PostgreSQL cluster on 127.0.0.1 and a free port.
 *
 * Why each step:
 * - initdb/pg_ctl refuse to run as root, so when we are root they run as the `postgres` OS user
 *   and the temp dir is chowned to it.
 * - `--auth=scram-sha-256` + a superuser password (via `--pwfile`, never argv) and pg_hba `host`
 *   lines for 127.0.0.1 only: rotation tests change real passwords and must see real auth
 *   failures.
 * - The unix socket lives in the temp dir (never clashes with a system cluster's
 *   /var/run/postgresql), `fsync=off` etc. because durability is pointless here and slow.
 * - `pg_ctl start -w` waits for the postmaster; we then poll `pg_isready` over TCP. (The `pg`
 *   package is not a dependency of this repo, so readiness does not use it.)
 * - If the test process dies without `stop()`, the cleanup registry stops the cluster
 *   (`pg_ctl stop -m immediate`, SIGKILL fallback) and removes the directory.
 */
export async function startPostgres(): Promise<PgHandle> {
  const bin = postgresBinDir();
  const owner = process.getuid?.() === 0 ? osUser('postgres') : undefined;
  const dir = await createTempDir('rr-pg-', owner);
  const dataDir = join(dir.path, 'data');
  const logFile = join(dir.path, 'postgres.log');
  const password = randomBytes(18).toString('base64url');
  registerSecretValue(password, 'PostgreSQL superuser password'); // for the secret-leak guard
  const as: RunOptions = { ...owner, cwd: dir.path, env: cleanEnv() };
  const pgCtl = join(bin, 'pg_ctl');

  let unregister = (): void => {};
  try {
    const pwfile = join(dir.path, 'pwfile');
    writeOwnedFile(pwfile, `${password}\n`, owner);
    await runCommand(
      join(bin, 'initdb'),
      [
        '-D', dataDir,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      as,
    );
    writeOwnedFile(
      join(dataDir, 'pg_hba.conf'),
      [
        '# TYPE  DATABASE  USER  ADDRESS       METHOD',
        'local   all       all                 scram-sha-256',
        'host    all       all   127.0.0.1/32  scram-sha-256',
        '',
      ].join('\n'),
      owner,
    );
    const baseConf = readFileSync(join(dataDir, 'postgresql.conf'), 'utf8');

    unregister = registerCleanup(`stop postgres in ${dataDir}`, () => {
      const res = spawnSync(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10'], {
        uid: as.uid,
        gid: as.gid,
        cwd: as.cwd,
        env: as.env,
        stdio: 'ignore',
        timeout: 15_000,
      });
      if (res.status !== 0) killPostmaster(dataDir);
    });

    const port = await withFreePort(async (candidate) => {
      writeOwnedFile(join(dataDir, 'postgresql.conf'), baseConf + testSettings(candidate, dir.path), owner);
      try {
        await runCommand(pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '30'], as);
      } catch (err) {
        throw new Error(`${(err as Error).message}\npostgres log:\n${tail(logFile)}`, { cause: err });
      }
      return candidate;
    });

    await waitUntil(
      async () => {
        await runCommand(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '1'], as);
        return true;
      },
      { timeoutMs: 30_000, message: `postgres on 127.0.0.1:${port} to accept TCP connections` },
    );

    let stopped = false;
    return {
      host: '127.0.0.1',
      port,
      superuser: { user: 'postgres', password },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await runCommand(pgCtl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], as);
        } catch {
          killPostmaster(dataDir);
        }
        unregister();
        await dir.remove();
      },
    };
  } catch (err) {
    unregister();
    // Stops a cluster that started but failed the readiness check; a no-op otherwise.
    await runCommand(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w'], as).catch(() => killPostmaster(dataDir));
    await dir.remove();
    throw err;
  }
}

function testSettings(port: number, socketDir: string): string {
  return `
# --- rotation-relay test settings (test/support/postgres.ts) ---
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${socketDir}'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
`;
}

/** uid/gid of an OS user, from /etc/passwd (Node has no getpwnam). */
function osUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(`OS user "${name}" not found (initdb refuses to run as root): install it with \`${INSTALL_HINT}\``);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function writeOwnedFile(path: string, text: string, owner: { uid: number; gid: number } | undefined): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (owner) chownSync(path, owner.uid, owner.gid);
}

/** The caller's environment minus PG* variables, which would redirect pg_ctl/psql elsewhere. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PG')));
}

function killPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file or no such process: nothing is running
  }
}

function tail(path: string, maxBytes = 4_000): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > maxBytes ? `…${text.slice(-maxBytes)}` : text;
  } catch {
    return '(no log)';
  }
}
