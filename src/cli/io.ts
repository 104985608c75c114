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
