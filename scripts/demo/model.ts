/**
 * What the demo knows at any moment, fed by the app instances' JSON lines, the worker's log lines
 * and the rotation driver; the table and the summary are pure functions of it (render.ts).
 */
import type { AppInstanceLine } from '../../test/support/app-instance/launch.js';
import { SECRET_KINDS, type RotationResult, type SecretKind } from '../../test/support/rotation-targets.js';

export type OpKind = 'pg' | 'redis' | 'smtp';
export const OP_KINDS = ['pg', 'redis', 'smtp'] as const satisfies readonly OpKind[];
export type OpCounts = Record<OpKind, { ok: number; failed: number }>;

/** An instance adopting a new version: when, and what made it refresh. */
export interface Adoption {
  versionId: string;
  at: number;
  trigger: string;
  /** The instance's own part: trigger (the invalidation's arrival) → new value in place. */
  refreshMs: number | undefined;
}

export interface InstanceState {
  id: string;
  pid: number | undefined;
  versions: Partial<Record<SecretKind, string>>;
  adopted: Partial<Record<SecretKind, Adoption>>;
  ops: OpCounts;
  authRecoveries: number;
  /** Set from the instance's final `summary` line: exact totals once its load has stopped. */
  final?: { ops: OpCounts; authRecoveries: number; failures: string[] };
}

/** One instance's propagation of one rotation. `ms` from the event's enqueue; undefined if it moved before. */
export interface Propagation {
  kind: SecretKind;
  instanceId: string;
  versionId: string;
  trigger: string;
  ms: number | undefined;
  refreshMs: number | undefined;
}

export interface CompletedRotation extends RotationResult {
  n: number;
  finishedAt: number;
  propagations: Propagation[];
}

const zeroOps = (): OpCounts => ({ pg: { ok: 0, failed: 0 }, redis: { ok: 0, failed: 0 }, smtp: { ok: 0, failed: 0 } });

export class DemoModel {
  readonly startedAt = Date.now();
  readonly instances = new Map<string, InstanceState>();
  /** The AWSCURRENT version of each secret, as the driver last moved it. */
  readonly current: Partial<Record<SecretKind, string>> = {};
  readonly rotations: Record<SecretKind, number> = { db: 0, cache: 0, mail: 0 };
  readonly completed: CompletedRotation[] = [];
  /**
   * Version → when the event announcing it was on the queue. Two clocks say "already there": the
   * driver's PutEvents returning (moto routes the event to SQS just before it answers) and the
   * worker's receive of it (its long poll returns as soon as the message lands); the earlier of
   * the two is the closer bound.
   */
  private readonly enqueuedAt = new Map<string, number>();
  readonly worker = {
    pid: undefined as number | undefined,
    healthPort: undefined as number | undefined,
    published: 0,
    collapsed: 0,
    receivers: undefined as number | undefined,
    /** SQS receive → PUBLISH of each invalidation, as the worker logs it. */
    publishMs: [] as number[],
  };
  eventsPut = 0;
  /** What the driver is doing right now, for the table's "now" line. */
  phase = 'starting';
  /** Problems worth a line of their own (an instance died, a rotation did not propagate). */
  readonly problems: string[] = [];

  addInstance(id: string, pid: number | undefined): void {
    this.instances.set(id, { id, pid, versions: {}, adopted: {}, ops: zeroOps(), authRecoveries: 0 });
  }

  onInstanceLine(line: AppInstanceLine): void {
    const instance = this.instances.get(line.instanceId);
    if (!instance) return;
    switch (line.type) {
      case 'ready':
        Object.assign(instance.versions, pickKinds(line.versions));
        break;
      case 'stats':
        Object.assign(instance.versions, pickKinds(line.versions));
        instance.ops = line.counts;
        instance.authRecoveries = line.authRecoveries ?? 0;
        break;
      case 'rotated':
        if (isKind(line.name)) {
          instance.versions[line.name] = line.versionId;
          instance.adopted[line.name] = { versionId: line.versionId, at: line.at, trigger: line.trigger, refreshMs: line.refreshMs };
        }
        break;
      case 'summary': {
        const ops = zeroOps();
        const failures: string[] = [];
        for (const kind of OP_KINDS) {
          const result = line.results[kind];
          ops[kind] = { ok: result.operations - result.failed, failed: result.failed };
          for (const failure of result.failures) failures.push(`${kind}: ${(failure as { message?: string }).message ?? String(failure)}`);
        }
        Object.assign(instance.versions, pickKinds(line.versions));
        instance.final = { ops, authRecoveries: line.status.counts.authRecoveries, failures };
        break;
      }
    }
  }

  /** A pino JSON line of the worker; counts what it did with each event. */
  onWorkerLine(text: string): void {
    if (!text.startsWith('{')) return;
    let line: { msg?: unknown; receivers?: unknown; healthPort?: unknown; time?: unknown; latencyMs?: unknown; versionId?: unknown };
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      return;
    }
    if (line.msg === 'invalidation published') {
      this.worker.published += 1;
      if (typeof line.receivers === 'number') this.worker.receivers = line.receivers;
      // `latencyMs` is the worker's SQS receive → publish; its log time is the publish.
      const publishedAt = typeof line.time === 'string' ? Date.parse(line.time) : Number.NaN;
      if (typeof line.versionId === 'string' && typeof line.latencyMs === 'number' && Number.isFinite(publishedAt)) {
        this.enqueued(line.versionId, publishedAt - line.latencyMs);
      }
      if (typeof line.latencyMs === 'number') this.worker.publishMs.push(line.latencyMs);
    } else if (line.msg === 'version already broadcast; nothing to publish' || line.msg === 'duplicate event; already handled') {
      this.worker.collapsed += 1;
    } else if (line.msg === 'worker started' && typeof line.healthPort === 'number') {
      this.worker.healthPort = line.healthPort;
    }
  }

  enqueued(versionId: string, at: number): void {
    this.enqueuedAt.set(versionId, Math.min(at, this.enqueuedAt.get(versionId) ?? Infinity));
  }

  rotationStarted(kind: SecretKind): void {
    this.phase = `rotating ${kind}`;
  }

  /** Every instance holds `versionId` of `kind`. */
  allHold(kind: SecretKind, versionId: string): boolean {
    return [...this.instances.values()].every((instance) => instance.versions[kind] === versionId);
  }

  /** Latency of an adoption: from the announcing event's enqueue; undefined when it came first. */
  latencyOf(adoption: Adoption | undefined): number | undefined {
    if (!adoption) return undefined;
    const enqueued = this.enqueuedAt.get(adoption.versionId);
    if (enqueued === undefined || adoption.at < enqueued) return undefined;
    return adoption.at - enqueued;
  }

  rotationFinished(result: RotationResult): CompletedRotation {
    this.rotations[result.kind] += 1;
    this.current[result.kind] = result.newVersion;
    const propagations: Propagation[] = [...this.instances.values()].map((instance) => {
      const adoption = instance.adopted[result.kind];
      const matches = adoption?.versionId === result.newVersion;
      return {
        kind: result.kind,
        instanceId: instance.id,
        versionId: result.newVersion,
        trigger: matches ? adoption.trigger : 'unknown',
        ms: matches ? this.latencyOf(adoption) : undefined,
        refreshMs: matches ? adoption.refreshMs : undefined,
      };
    });
    const completed: CompletedRotation = { ...result, n: this.completed.length + 1, finishedAt: Date.now(), propagations };
    this.completed.push(completed);
    return completed;
  }

  /** Operations of every instance: final totals where known, the last stats otherwise. */
  totals(): { ops: OpCounts; ok: number; failed: number; authRecoveries: number; failures: string[] } {
    const ops = zeroOps();
    let authRecoveries = 0;
    const failures: string[] = [];
    for (const instance of this.instances.values()) {
      const source = instance.final ?? { ops: instance.ops, authRecoveries: instance.authRecoveries, failures: [] };
      for (const kind of OP_KINDS) {
        ops[kind].ok += source.ops[kind].ok;
        ops[kind].failed += source.ops[kind].failed;
      }
      authRecoveries += source.authRecoveries;
      failures.push(...source.failures.map((f) => `${instance.id} ${f}`));
    }
    const ok = OP_KINDS.reduce((sum, kind) => sum + ops[kind].ok, 0);
    const failed = OP_KINDS.reduce((sum, kind) => sum + ops[kind].failed, 0);
    return { ops, ok, failed, authRecoveries, failures };
  }
}

function isKind(name: string): name is SecretKind {
  return (SECRET_KINDS as readonly string[]).includes(name);
}

function pickKinds(versions: Record<string, string>): Partial<Record<SecretKind, string>> {
  return Object.fromEntries(Object.entries(versions).filter(([name]) => isKind(name)));
}
