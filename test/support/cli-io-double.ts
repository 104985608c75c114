import type { CliIo } from '../../src/ops/cli/io.js';

/** A CliIo that collects what a command writes, in memory; stdin is a fixed string; no signal ever arrives. */
export interface CliIoDouble extends CliIo {
  /** What out() was given: one entry a call, or one a physical line with `split: true`. */
  outLines: string[];
  /** What err() was given, the same way. */
  errLines: string[];
  /** Everything written to stderr, split into physical lines. */
  errText(): string[];
  /** stdout then stderr, physical lines joined with `\n`. */
  text(): string;
  /** How often the command read stdin. */
  stdinReads: number;
}

export interface CliIoDoubleOptions {
  env?: Record<string, string | undefined>;
  /** What readStdin() returns. @defaultValue '' */
  stdin?: string;
  /** Keep one entry per physical line instead of one per call. @defaultValue false */
  split?: boolean;
}

export function cliIoDouble(options: CliIoDoubleOptions = {}): CliIoDouble {
  const keep = (into: string[], line: string): void => void (options.split ? into.push(...line.split('\n')) : into.push(line));
  const io: CliIoDouble = {
    outLines: [],
    errLines: [],
    stdinReads: 0,
    out: (line) => keep(io.outLines, line),
    err: (line) => keep(io.errLines, line),
    errText: () => io.errLines.join('\n').split('\n'),
    text: () => [...io.outLines, ...io.errLines].join('\n'),
    readStdin: async () => {
      io.stdinReads += 1;
      return options.stdin ?? '';
    },
    env: Object.freeze({ ...(options.env ?? {}) }),
    untilSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  };
  return io;
}
