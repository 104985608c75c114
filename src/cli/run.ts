import { ConfigError } from '../config/index.js';
import { describeCause, describeError } from '../error-cause.js';
import { RotationRelayError } from '../errors.js';
import { demo, demoHelp } from './commands/demo.js';
import { infra, infraHelp } from './commands/infra.js';
import { inspectEvent, inspectEventHelp } from './commands/inspect-event.js';
import { listen, listenHelp } from './commands/listen.js';
import { publish, publishHelp } from './commands/publish.js';
import { status, statusHelp } from './commands/status.js';
import { waitConvergedCommand, waitConvergedHelp } from './commands/wait-converged.js';
import { drill, drillHelp } from './commands/drill.js';
import { worker, workerHelp } from './commands/worker.js';
import { EXIT, UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';

interface Command {
  summary: string;
  help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  worker: { summary: 'run the relay: SQS → confirm → signed invalidations on Redis', help: workerHelp, run: worker },
  listen: { summary: 'print verified invalidations as they arrive', help: listenHelp, run: listen },
  publish: { summary: 'broadcast a manual fleet-wide refresh of one secret', help: publishHelp, run: publish },
  status: { summary: 'show each secret\'s last broadcast and which live instances hold it', help: statusHelp, run: status },
  'wait-converged': { summary: 'wait until every live app instance holds a version of a secret', help: waitConvergedHelp, run: waitConvergedCommand },
  drill: { summary: 'rotate a secret now and show the timeline until the fleet converged', help: drillHelp, run: drill },
  'inspect-event': { summary: 'show what the worker would do with one SQS body', help: inspectEventHelp, run: inspectEvent },
  infra: { summary: 'plan, apply, destroy or verify the queue and EventBridge rule', help: infraHelp, run: infra },
  demo: { summary: 'the whole loop live on this machine (from a checkout)', help: demoHelp, run: (argv, io) => demo(argv, io) },
};

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
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(name, command, error, io);
  }
}

function reportError(name: string, command: Command, error: unknown, io: CliIo): number {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    io.err(`rotation-relay ${name}: ${error.message}\n\n${command.help.split('\n')[0]}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    io.err(`rotation-relay ${name}: configuration: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof RotationRelayError) {
    io.err(`rotation-relay ${name}: ${error.message}${causeSuffix(error)} [${error.code}]`);
    return EXIT.failure;
  }
  // Unexpected: the name and message only, on one line; stacks of SDK errors can quote request
  // data, and so can an AWS SDK error's message (a response body it could not parse): name only.
  const err = error instanceof Error ? error : new Error(String(error));
  const text = '$metadata' in err ? describeError(err) : `${err.name}: ${err.message}`;
  io.err(`rotation-relay ${name}: ${text}${causeSuffix(err)}`.replace(/\s*\n\s*/g, ' '));
  return EXIT.failure;
}

/**
 * " (cause: connect ECONNREFUSED 127.0.0.1:6379)": what the chain under the error says, told
 * safely (src/error-cause.ts), unless the message already says it.
 */
function causeSuffix(error: Error): string {
  const cause = describeCause(error);
  return cause === undefined || error.message.includes(cause) ? '' : ` (cause: ${cause})`;
}
