import { randomBytes } from 'node:crypto';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { withFreePort } from './free-port.js';
import { registerSecretValue } from './leak-guard.js';
import { findExecutable } from './require-binary.js';
import { runCommand } from './run-command.js';
import { spawnDaemon, type Daemon } from './spawn-daemon.js';
import { createTempDir } from './temp-dir.js';

/** A private MariaDB server for one test file (TCP on loopback, password logins only). */
export interface MariadbHandle {
  host: '127.0.0.1';
  port: number;
  /** The server's unix socket, inside its temp dir. */
  socket: string;
  /** `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`. */
  version: string;
  /** An account with every privilege, for the test's own `CREATE USER` / `ALTER USER`, host 127.0.0.1. */
  admin: { user: 'rr_admin'; password: string };
  /** Graceful shutdown (SIGTERM), then removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install mariadb-server';
const SERVER = 'mariadbd';
const INSTALL_DB = 'mariadb-install-db';
const READY_TIMEOUT_MS = 30_000;

/**
 * Creates a throwaway data directory and starts `mariadbd` on 127.0.0.1 and a free port.
 *
 * Why each step:
 * - mariadbd refuses to run as root unless told `--user`, and then drops to that user: when we
 *   are root the temp dir is chowned to the `mysql` OS user and both commands get `--user=mysql`
 *   (as for PostgreSQL, whose initdb refuses root outright).
 * - `--no-defaults` everywhere: the machine's /etc/mysql/my.cnf (its datadir, socket, port) must
 *   not leak into a private server.
 * - The admin account is created during `mariadb-install-db` by an `--extra-file` (`FLUSH
 *   PRIVILEGES` first: the bootstrap runs without grant tables, where CREATE USER is refused). Its
 *   password is in a 0600 file of the temp dir, never in argv, and is registered with the leak
 *   guard. root keeps MariaDB's default unix_socket-only login.
 * - `--skip-name-resolve`: accounts are `'user'@'127.0.0.1'`, no reverse DNS on each login (a
 *   rotation test logs in hundreds of times a second), and no host cache that could block
 *   127.0.0.1 after many failed logins.
 * - Durability settings off (`innodb_flush_log_at_trx_commit=0`, a small buffer pool): nothing
 *   here must survive a crash, and fsyncs would only slow the test.
 * - Readiness is a real login as the admin, polled; a server that exits first fails at once with
 *   its log. The process runs in its own group, killed by the cleanup registry if the test process
 *   exits without `stop()`; the temp dir is removed the same way.
 */
export async function startMariadb(): Promise<MariadbHandle> {
  const server = mariadbBinary(SERVER, ['/usr/sbin/mariadbd', '/usr/libexec/mariadbd']);
  const installDb = mariadbBinary(INSTALL_DB, ['/usr/bin/mariadb-install-db']);
  const owner = process.getuid?.() === 0 ? osUser('mysql') : undefined;
  const userArgs = owner ? ['--user=mysql'] : [];
  const dir = await createTempDir('rr-mariadb-', owner);
  const dataDir = join(dir.path, 'data');
  const socket = join(dir.path, 'mariadbd.sock');
  const password = randomBytes(18).toString('base64url');
  registerSecretValue(password, 'MariaDB admin password'); // for the secret-leak guard

  let daemon: Daemon | undefined;
  try {
    const initFile = join(dir.path, 'init.sql');
    writeOwnedFile(
      initFile,
      [
        'FLUSH PRIVILEGES;',
        `CREATE USER 'rr_admin'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}');`,
        "GRANT ALL PRIVILEGES ON *.* TO 'rr_admin'@'127.0.0.1' WITH GRANT OPTION;",
        '',
      ].join('\n'),
      owner,
    );
    await runCommand(
      installDb,
      ['--no-defaults', `--datadir=${dataDir}`, ...userArgs, '--skip-test-db', '--skip-name-resolve', `--extra-file=${initFile}`],
      { cwd: dir.path, timeoutMs: 60_000 },
    ).catch((err: unknown) => {
      throw new Error(`${INSTALL_DB} could not initialise ${dataDir}: ${(err as Error).message}`, { cause: err });
    });

    const port = await withFreePort(async (candidate) => {
      const started = spawnDaemon({
        name: `${SERVER} 127.0.0.1:${candidate}`,
        command: server,
        args: [
          '--no-defaults',
          `--datadir=${dataDir}`,
          `--port=${candidate}`,
          '--bind-address=127.0.0.1',
          `--socket=${socket}`,
          `--pid-file=${join(dir.path, 'mariadbd.pid')}`,
          ...userArgs,
          '--skip-name-resolve',
          '--innodb-buffer-pool-size=16M',
          '--innodb-flush-log-at-trx-commit=0',
          '--max-connections=200',
        ],
        cwd: dir.path,
        logFile: join(dir.path, 'mariadbd.log'),
      });
      await started.waitReady(() => adminLogin(candidate, password).then(() => true, () => false), READY_TIMEOUT_MS);
      daemon = started;
      return candidate;
    });

    const version = await adminLogin(port, password);
    let stopped = false;
    return {
      host: '127.0.0.1',
      port,
      socket,
      version,
      admin: { user: 'rr_admin', password },
      async stop() {
        if (stopped) return;
        stopped = true;
        await daemon?.stop({ signal: 'SIGTERM', graceMs: 15_000 });
        await dir.remove();
      },
    };
  } catch (err) {
    await daemon?.stop({ signal: 'SIGKILL' });
    await dir.remove();
    throw err;
  }
}

/** One login as the admin; resolves with the server's version, rejects if the server does not accept it (yet). */
async function adminLogin(port: number, password: string): Promise<string> {
  const connection = await createConnection({ host: '127.0.0.1', port, user: 'rr_admin', password, connectTimeout: 2_000 });
  try {
    const [rows] = await connection.query<Array<RowDataPacket & { v: string }>>('SELECT VERSION() AS v');
    return rows[0]?.v ?? 'unknown';
  } finally {
    await connection.end();
  }
}

/**
 * The binary on PATH, else at one of its usual places (mariadbd lives in /usr/sbin, often not on a
 * non-root PATH). A missing one fails the run naming the command and what to install: a test
 * that needs a real server never skips silently.
 */
function mariadbBinary(name: string, usual: readonly string[]): string {
  const found = findExecutable(name) ?? usual.map((path) => findExecutable(path)).find((path) => path !== undefined);
  if (found === undefined) {
    throw new Error(`${name} not found on PATH or at ${usual.join(', ')}: install it with \`${INSTALL_HINT}\``);
  }
  return found;
}

/** uid/gid of an OS user, from /etc/passwd (Node has no getpwnam). */
function osUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(`OS user "${name}" not found (${SERVER} runs as it when started by root): install it with \`${INSTALL_HINT}\``);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function writeOwnedFile(path: string, text: string, owner: { uid: number; gid: number } | undefined): void {
  writeFileSync(path, text, { mode: 0o600 });
  if (owner) chownSync(path, owner.uid, owner.gid);
}
