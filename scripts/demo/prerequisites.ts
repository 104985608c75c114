/**
 * The demo's external programs, checked before anything starts so that a missing one is reported
 * with what to install (all at once), instead of as a failure halfway through start-up.
 */
import { readFileSync } from 'node:fs';
import { postgresBinDir } from '../../test/support/postgres.js';
import { findExecutable } from '../../test/support/require-binary.js';

export interface MissingPrerequisite {
  what: string;
  install: string;
}

function hasOsUser(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .some((line) => line.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

export function missingPrerequisites(): MissingPrerequisite[] {
  const missing: MissingPrerequisite[] = [];
  if (!findExecutable('redis-server')) {
    missing.push({ what: 'redis-server (on PATH)', install: 'apt-get install redis-server' });
  }
  try {
    postgresBinDir();
    // initdb refuses to run as root; the launcher then runs it as the postgres OS user.
    if (process.getuid?.() === 0 && !hasOsUser('postgres')) {
      missing.push({ what: 'the postgres OS user (initdb refuses to run as root)', install: 'apt-get install postgresql' });
    }
  } catch {
    missing.push({ what: 'PostgreSQL server binaries (initdb, pg_ctl, pg_isready under /usr/lib/postgresql/*/bin or on PATH)', install: 'apt-get install postgresql' });
  }
  if (!findExecutable('moto_server')) {
    missing.push({ what: 'moto_server (on PATH)', install: 'pip install "moto[server]"' });
  }
  return missing;
}

export function formatMissing(missing: MissingPrerequisite[]): string {
  const width = Math.max(...missing.map((m) => m.what.length));
  return [
    'rotation-relay demo: missing prerequisite' + (missing.length === 1 ? '' : 's') + ':',
    ...missing.map((m) => `  ${m.what.padEnd(width)}  install: ${m.install}`),
    '',
    'On macOS, Homebrew has redis and postgresql; pip installs moto anywhere Python 3 runs.',
    'Without installing them, Docker runs a similar stack in containers (LocalStack, Valkey, PostgreSQL,',
    'Mailpit, the worker): `docker compose up --build` at the repository root, described in',
    'docs/deploy.md ("Local stack"). It has no rotation driver or live table; the demo needs the three',
    'programs above.',
  ].join('\n');
}
