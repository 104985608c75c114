import { execFile } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this OS user (requires root), e.g. `postgres` for initdb/pg_ctl. */
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

/**
 * Runs a short-lived command to completion and returns its stdout.
 *
 * Why: setup steps (initdb, pg_ctl, psql) must fail with their own output in the error, not
 * with a bare "exit code 1", so a broken CI machine is diagnosable from the test log alone.
 */
export function runCommand(command: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        uid: opts.uid,
        gid: opts.gid,
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const how = error.killed ? `killed after ${opts.timeoutMs ?? 60_000} ms` : `exit code ${String(error.code)}`;
        const output = `${stdout}${stderr}`.trim();
        reject(new Error(`${command} ${args.join(' ')} failed (${how})${output ? `:\n${output}` : ''}`, { cause: error }));
      },
    );
  });
}
