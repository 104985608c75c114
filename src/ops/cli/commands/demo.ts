import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** The demo's entry point, relative to the repository root. */
export const DEMO_ENTRY = 'scripts/demo/main.ts';

/** The package root: src/ops/cli/commands/ when run from source, dist/ops/cli/commands/ when built. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const demoHelp = `Usage: rotation-relay demo [--rotations N] [--interval-ms MS] [--window-ms MS] [--instances N] [--django]

The whole loop, live, on this machine: no AWS account, no Docker. It starts moto_server (Secrets
Manager, EventBridge with the rule of infra/event-pattern.json created by "infra apply", and the
SQS queue it feeds), a private redis-server for the invalidations, the worker, and app instances
(separate processes) that use the SDK's rotating pg, Redis and SMTP clients under constant load
against a private PostgreSQL, a second redis-server and an in-process SMTP server. A driver rotates
the three secrets in turn the way rotation Lambdas do (the database with a single-user window)
and puts the events Secrets Manager would emit on EventBridge. A live table shows, per instance,
the version it holds of each secret, the last propagation latency (event enqueued on the queue →
the instance's new version in place) and its operations ok / failed.

Options:
  --rotations N     stop after N rotations of each secret (3 x N in all), print a summary line and
                    exit; default: run until Ctrl-C
  --interval-ms MS  pause between two rotations (default 2000); each secret rotates every third
  --window-ms MS    database rotation: time between setSecret (password changed on the server) and
                    finishSecret (AWSCURRENT moves) (default 1000)
  --instances N     app instances, 1 to 8 (default 3)
  --django          also run one Django instance (examples/django_subscriber.py with the Python
                    package of python/: the rotating PostgreSQL backend, django-redis cache and
                    SMTP email backend under the same load), shown in the table as django-1 and
                    counted by "rotation-relay status"; needs Debian's python3 with Django,
                    psycopg2, redis-py, django-redis and boto3 (default: off)
  -h, --help        show this help

Ctrl-C stops everything it started (app instances, worker, servers, in that order) and prints the
same summary; a second Ctrl-C a second later kills what is left at once. The live table redraws in
place when stdout is a terminal; otherwise one line per rotation.

Needs redis-server, PostgreSQL's server binaries (initdb, pg_ctl) and moto_server; a missing one
is named with what to install (or use "docker compose up --build" for a container stack instead).
It runs from a checkout of the repository, because it needs the dev dependencies and the test
launchers: "npm ci && npm run demo" there. "rotation-relay demo" in a checkout runs the same
script through tsx; from an installed package it prints how to get a checkout and exits 2.

Exit codes: 0 no operation failed (also after Ctrl-C; "npm run" then reports 130), 1 an operation
failed, a rotation did not reach every instance or a process died, 2 bad usage or a missing
prerequisite.`;

/** The demo script of a checkout rooted at `root`, or undefined when it (or tsx) is not there. */
export function findDemoEntry(root: string = PACKAGE_ROOT): string | undefined {
  const entry = join(root, DEMO_ENTRY);
  return existsSync(entry) && existsSync(join(root, 'node_modules', 'tsx', 'package.json')) ? entry : undefined;
}

/**
 * `rotation-relay demo`: the demo needs dev-only packages (tsx, smtp-server, fauxqs) and the test
 * launchers, which an installed package does not ship; in a checkout this runs its script as a
 * child process and relays Ctrl-C / SIGTERM to it.
 */
export async function demo(argv: string[], io: CliIo, root: string = PACKAGE_ROOT): Promise<number> {
  const entry = findDemoEntry(root);
  if (!entry) {
    io.err(`rotation-relay demo: runs from a checkout of the rotation-relay repository, with its dev dependencies installed:

  git clone <the rotation-relay repository> && cd rotation-relay
  npm ci && npm run demo

(looked for ${join(root, DEMO_ENTRY)} and tsx under ${join(root, 'node_modules')})`);
    return EXIT.usage;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...argv], {
    cwd: root,
    stdio: 'inherit',
    env: { ...io.env } as NodeJS.ProcessEnv,
  });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (error) => {
      io.err(`rotation-relay demo: could not start ${entry}: ${error.message}`);
      resolve(EXIT.failure);
    });
    child.once('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : EXIT.failure)));
  });
  // The child shares the terminal, so a Ctrl-C reaches it directly too; the demo counts a
  // repeat within a second as one.
  let running = true;
  void exited.then(() => {
    running = false;
  });
  void (async () => {
    while (running) {
      const signal = await Promise.race([io.untilSignal(), exited.then(() => undefined)]);
      if (signal && running) child.kill(signal);
    }
  })();
  return exited;
}
