import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withFreePort } from './free-port.js';
import { registerSecretValue } from './leak-guard.js';
import { redisAnswersPing } from './redis-probe.js';
import { requireBinary } from './require-binary.js';
import { spawnDaemon, type Daemon } from './spawn-daemon.js';
import { createTempDir, type TempDir } from './temp-dir.js';

/** An ACL user; several passwords model a rotation's overlap window (old + new both valid). */
export interface RedisAclUser {
  name: string;
  passwords: string[];
}

export interface StartRedisOptions {
  /** Password of the `default` user (`requirepass`, or the default user's ACL line). */
  password?: string;
  /** Extra ACL users, each with `~* &* +@all`; written to a generated aclfile. */
  aclUsers?: RedisAclUser[];
  /** Fixed port; default: a free loopback port. */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  extraArgs?: string[];
}

/** A private redis-server for one test file. `url` carries no credentials. */
export interface RedisHandle {
  host: '127.0.0.1';
  port: number;
  url: string;
  /** Graceful stop (SIGTERM), removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** `stop()` then `start()`: same port, same config, empty dataset (nothing is persisted). */
  restart(): Promise<void>;
  /** SIGKILL (a crash), removes the temp dir, no restart. Idempotent. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same config after `stop()`/`kill()`; no-op if running. */
  start(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/**
 * Starts `redis-server` on 127.0.0.1 and a free port, without persistence, and waits until it
 * answers PING.
 *
 * Why: rotation tests need a real Redis (AUTH, ACL, pub/sub, connection drops on restart).
 * Each launch uses a fresh temp dir (config, aclfile, log) that is removed when it stops; the
 * process is killed on test-process exit if a test forgets to stop it.
 *
 * ACL: with `aclUsers`, an aclfile is generated (passwords as `#<sha256>` so any characters are
 * safe) holding the `default` user (`nopass` unless `password` is given) plus each user. Runtime
 * `ACL SETUSER` changes are lost on restart unless the test calls `ACL SAVE` first.
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  const binary = requireBinary('redis-server', 'apt-get install redis-server');
  // The secret-leak guard fails a test file whose output shows one of these.
  if (opts.password !== undefined) registerSecretValue(opts.password, 'redis-server default password');
  for (const user of opts.aclUsers ?? []) for (const pw of user.passwords) registerSecretValue(pw, `redis-server password of ACL user ${user.name}`);
  let current: { daemon: Daemon; dir: TempDir } | undefined;

  const launch = async (port: number): Promise<void> => {
    const dir = await createTempDir('rr-redis-');
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir.path,
      '--daemonize', 'no',
      '--logfile', '',
    ];
    if (opts.aclUsers && opts.aclUsers.length > 0) {
      const aclfile = join(dir.path, 'users.acl');
      await writeFile(aclfile, aclFileContents(opts.password, opts.aclUsers), { mode: 0o600 });
      args.push('--aclfile', aclfile);
    } else if (opts.password !== undefined) {
      args.push('--requirepass', opts.password);
    }
    args.push(...(opts.extraArgs ?? []));

    const daemon = spawnDaemon({
      name: `redis-server 127.0.0.1:${port}`,
      command: binary,
      args,
      cwd: dir.path,
      logFile: join(dir.path, 'redis.log'),
    });
    try {
      await daemon.waitReady(() => redisAnswersPing(port), READY_TIMEOUT_MS);
    } catch (err) {
      await daemon.stop({ signal: 'SIGKILL' });
      await dir.remove();
      throw err;
    }
    current = { daemon, dir };
  };

  let port: number;
  if (opts.port !== undefined) {
    port = opts.port;
    await launch(port);
  } else {
    port = await withFreePort(async (candidate) => {
      await launch(candidate);
      return candidate;
    });
  }

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const running = current;
    current = undefined;
    if (!running) return;
    await running.daemon.stop({ signal });
    await running.dir.remove();
  };

  const handle: RedisHandle = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async start() {
      if (current && !current.daemon.hasExited()) return;
      await halt('SIGKILL'); // reap a crashed instance's leftovers
      await launch(port);
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
  };
  return handle;
}

function aclFileContents(defaultPassword: string | undefined, users: RedisAclUser[]): string {
  const secret = (pw: string): string => `#${createHash('sha256').update(pw).digest('hex')}`;
  const line = (name: string, passwords: string[]): string => {
    if (/\s/.test(name)) throw new Error(`Redis ACL user name must not contain spaces: ${JSON.stringify(name)}`);
    const creds = passwords.length > 0 ? passwords.map(secret).join(' ') : 'nopass';
    return `user ${name} on ${creds} ~* &* +@all`;
  };
  const lines = users.map((u) => line(u.name, u.passwords));
  // An explicit `default` entry in `users` wins over the one derived from `password`.
  if (!users.some((u) => u.name === 'default')) {
    lines.unshift(line('default', defaultPassword === undefined ? [] : [defaultPassword]));
  }
  return lines.join('\n') + '\n';
}
