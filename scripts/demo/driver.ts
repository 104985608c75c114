/**
 * The rotation driver: the three secrets in turn, each rotated the way its rotation Lambda does it
 * (test/support/rotation-targets.ts), with the events Secrets Manager and CloudTrail emit put on
 * EventBridge, where the project's rule routes them to the worker's queue.
 */
import { labelUpdatedEvent, moveCurrentEvent, putPendingEvent, rotationSucceededEvent } from '../../test/support/rotation-events.js';
import { SECRET_KINDS, type RotationHooks } from '../../test/support/rotation-targets.js';
import { waitUntil } from '../../test/support/wait-until.js';
import type { CompletedRotation, DemoModel } from './model.js';
import type { DemoStack } from './stack.js';

export interface DriverOptions {
  /** Rotations of each secret; Infinity until stopped. */
  rounds: number;
  intervalMs: number;
  /** How long every instance may take to hold a new version before the demo calls it a failure. */
  convergeTimeoutMs: number;
  signal: AbortSignal;
  onRotation(rotation: CompletedRotation): void;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Runs until `rounds` rotations of each secret are done or `signal` aborts; throws if one does not propagate. */
export async function driveRotations(stack: DemoStack, model: DemoModel, options: DriverOptions): Promise<void> {
  const targets = stack.targets;
  if (!targets) throw new Error('the demo stack is not started');
  const kindOf = (arn: string) => SECRET_KINDS.find((kind) => stack.secrets?.[kind].arn === arn) ?? 'secret';
  const hooks: RotationHooks = {
    async pending(secret, versionId) {
      model.phase = `rotating ${kindOf(secret.arn)}: createSecret put version ${versionId.slice(0, 8)} as AWSPENDING`;
      await stack.putEvents([putPendingEvent(secret.arn, versionId)]);
      model.eventsPut += 1;
      model.phase = `rotating ${kindOf(secret.arn)}: setSecret, the server takes the new password; AWSCURRENT still names the old one`;
    },
    async finished(secret, newVersion, oldVersion) {
      // The event that moves AWSCURRENT first and alone: moto routes a PutEvents to SQS just before
      // it answers, so the event is on the queue when this call returns (or earlier: see
      // DemoModel.enqueued for the worker's own receive time).
      const kind = kindOf(secret.arn);
      if (kind !== 'secret') model.current[kind] = newVersion;
      await stack.putEvents([moveCurrentEvent(secret.arn, newVersion, oldVersion)]);
      model.enqueued(newVersion, Date.now());
      model.eventsPut += 1;
      model.phase = `rotating ${kind}: finishSecret moved AWSCURRENT to ${newVersion.slice(0, 8)}; waiting for every instance`;
    },
    async converged(kind, versionId) {
      await waitUntil(() => model.allHold(kind, versionId), {
        timeoutMs: options.convergeTimeoutMs,
        intervalMs: 10,
        message: `every app instance to hold ${kind} version ${versionId}`,
        signal: options.signal,
      });
      // The rotation's other events (RotationSucceeded, the native Secret Label Updated): the worker
      // collapses them into the broadcast already made. Put once the fleet has moved, because moto
      // spends a few hundred ms of CPU on each PutEvents, which would otherwise slow down the
      // Secrets Manager reads being measured.
      const secret = stack.secrets?.[kind];
      if (secret) {
        model.phase = `rotating ${kind}: every instance holds ${versionId.slice(0, 8)}; RotationSucceeded and Secret Label Updated follow (the worker collapses them)`;
        await stack.putEvents([rotationSucceededEvent(secret.arn), labelUpdatedEvent(secret.arn, versionId)]);
        model.eventsPut += 2;
      }
    },
  };

  for (let round = 0; round < options.rounds; round += 1) {
    for (const kind of SECRET_KINDS) {
      if (options.signal.aborted) return;
      model.rotationStarted(kind);
      const result = await targets.rotate(kind, round, hooks);
      options.onRotation(model.rotationFinished(result));
      const last = round === options.rounds - 1 && kind === SECRET_KINDS.at(-1);
      if (last) break;
      model.phase = `next rotation in ${(options.intervalMs / 1000).toFixed(1)} s`;
      await pause(options.intervalMs, options.signal);
    }
  }
}
