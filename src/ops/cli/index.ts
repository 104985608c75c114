// ops/cli: the rotation-relay command line (main.ts is the bin; runCli is the CLI as a function).
export { runCli, mainHelp } from './run.js';
export { COMMANDS, type Command, type LoadedCommand } from './commands/index.js';
export { EXIT, UsageError } from './exit-codes.js';
export type { CliIo } from './io.js';
