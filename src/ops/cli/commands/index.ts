// The commands of the CLI, each with its one-line summary (for the main help) and its help.
import type { CliIo } from '../io.js';
import { demo, demoHelp } from './demo.js';
import { infra, infraHelp } from './infra.js';
import { inspectEvent, inspectEventHelp } from './inspect-event.js';
import { listen, listenHelp } from './listen.js';
import { publish, publishHelp } from './publish.js';
import { status, statusHelp } from './status.js';
import { waitConvergedCommand, waitConvergedHelp } from './wait-converged.js';
import { drill, drillHelp } from './drill.js';
import { worker, workerHelp } from './worker.js';

export interface Command {
  summary: string;
  help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
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
