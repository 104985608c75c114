/** Where commands write: real streams in production, collected strings in tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  readStdin(): Promise<string>;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM); long-running commands await it. */
  untilSignal(): Promise<NodeJS.Signals>;
}

export function processIo(): CliIo {
  ignoreClosedReader(process.stdout);
  ignoreClosedReader(process.stderr);
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    untilSignal: () =>
      new Promise((resolve) => {
        const handler = (signal: NodeJS.Signals) => {
          process.off('SIGINT', handler);
          process.off('SIGTERM', handler);
          resolve(signal);
        };
        process.on('SIGINT', handler);
        process.on('SIGTERM', handler);
      }),
  };
}

/**
 * `rotation-relay status | head -1`: once the reader has gone, a write fails with EPIPE, emitted
 * as an 'error' event that would crash the process with a stack trace. Nobody is left to read
 * the rest, so drop it; any other write error still surfaces.
 */
function ignoreClosedReader(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. Into a pipe
 * (and on POSIX a socket), `process.stdout.write` is asynchronous: what does not fit the pipe's
 * buffer (64 KiB on Linux) waits in the process, and `process.exit` drops it. An empty write's
 * callback runs after every earlier write has completed (or failed: a reader that left).
 */
export function drained(stream: NodeJS.WritableStream & { destroyed?: boolean; writable?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed === true || stream.writable === false) {
      resolve();
      return;
    }
    stream.write('', () => resolve());
  });
}
