import { COMMANDS, type LoadedCommand } from './commands/index.js';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';

export const mainHelp = `Usage: rotation-relay <command> [options]

Relays AWS Secrets Manager rotations to every app instance over Redis pub/sub.

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(15)}${command.summary}`)
  .join('\n')}

Run "rotation-relay <command> --help" for a command's options.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration (or a rejected event),
3 wait-converged: subscribers on the channel that report no presence.`;

/** The whole CLI as a function of argv and io, so tests run it in-process. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(mainHelp);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`rotation-relay: unknown command "${name}"\n\n${mainHelp}`);
    return EXIT.usage;
  }
  let loaded: LoadedCommand | undefined;
  try {
    loaded = await command.load();
    if (rest.includes('-h') || rest.includes('--help')) {
      io.out(loaded.help);
      return EXIT.ok;
    }
    return await loaded.run(rest, io);
  } catch (error) {
    return reportError(name, loaded?.help ?? '', error, io);
  }
}
