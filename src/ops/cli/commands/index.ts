// The commands of the CLI, each with its one-line summary (for the main help) and its module.
// A command's module is loaded only when that command runs or its help is asked for: the worker
// then loads neither the infra nor the demo code (about 6 MB less RSS for the long-running
// process, measured), and `rotation-relay status` none of the worker's.
import type { CliIo } from '../io.js';

export interface LoadedCommand {
  help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export interface Command {
  summary: string;
  load(): Promise<LoadedCommand>;
}

export const COMMANDS: Record<string, Command> = {
  worker: {
    summary: 'run the relay: SQS → confirm → signed invalidations on Redis',
    load: async () => {
      const { worker, workerHelp } = await import('./worker.js');
      return { help: workerHelp, run: worker };
    },
  },
  listen: {
    summary: 'print verified invalidations as they arrive',
    load: async () => {
      const { listen, listenHelp } = await import('./listen.js');
      return { help: listenHelp, run: listen };
    },
  },
  publish: {
    summary: 'broadcast a manual fleet-wide refresh of one secret',
    load: async () => {
      const { publish, publishHelp } = await import('./publish.js');
      return { help: publishHelp, run: publish };
    },
  },
  status: {
    summary: 'show each secret\'s last broadcast and which live instances hold it',
    load: async () => {
      const { status, statusHelp } = await import('./status.js');
      return { help: statusHelp, run: status };
    },
  },
  'wait-converged': {
    summary: 'wait until every live app instance holds a version of a secret',
    load: async () => {
      const { waitConvergedCommand, waitConvergedHelp } = await import('./wait-converged.js');
      return { help: waitConvergedHelp, run: waitConvergedCommand };
    },
  },
  drill: {
    summary: 'rotate a secret now and show the timeline until the fleet converged',
    load: async () => {
      const { drill, drillHelp } = await import('./drill.js');
      return { help: drillHelp, run: drill };
    },
  },
  'inspect-event': {
    summary: 'show what the worker would do with one SQS body',
    load: async () => {
      const { inspectEvent, inspectEventHelp } = await import('./inspect-event.js');
      return { help: inspectEventHelp, run: inspectEvent };
    },
  },
  infra: {
    summary: 'plan, apply, destroy or verify the queue and EventBridge rule',
    load: async () => {
      const { infra, infraHelp } = await import('./infra.js');
      return { help: infraHelp, run: infra };
    },
  },
  demo: {
    summary: 'the whole loop live on this machine (from a checkout)',
    load: async () => {
      const { demo, demoHelp } = await import('./demo.js');
      return { help: demoHelp, run: demo };
    },
  },
};
