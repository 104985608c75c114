import { isSecretsManagerArn, secretIdMatches } from '../../secrets/index.js';
import type { PresenceAck } from '../../protocol/index.js';
import type { FleetInstance, FleetSnapshot } from './read-fleet.js';

/** The version every live instance that uses `secretArn` should hold. */
export interface ConvergenceTarget {
  secretArn: string;
  versionId: string;
  /**
   * When the fleet was told to move to `versionId` (the broadcast's `publishedAt`, in ms), the
   * origin of "stale for". Unknown: the first ack of the target by any instance stands in.
   */
  since?: number;
}

/** One live instance and the version it acked for the secret. */
export interface InstanceVersion {
  instanceId: string;
  host?: string;
  pid?: number;
  versionId: string;
  /** When it first held that version (its clock). */
  ackedAt: number;
  /** Its last heartbeat or ack (ms). */
  lastSeenAt: number;
}

/** A live instance on another version than the target. */
export interface StaleInstance extends InstanceVersion {
  /** Since when it should have held the target: max(target since, its own ack); absent when unknown. */
  staleSince?: number;
  staleForMs?: number;
}

export interface SecretConvergence {
  secretArn: string;
  versionId: string;
  checkedAt: number;
  /** Live instances that ack this secret at all. */
  instances: number;
  /** Those that hold `versionId`. */
  holders: InstanceVersion[];
  /** Those that hold another version. */
  stale: StaleInstance[];
  /** No live instance that uses the secret is on another version. True for an empty fleet. */
  converged: boolean;
}

/**
 * The ack of `instance` for `secretArn`: the field named by that exact ARN, else one named by the
 * name or partial ARN the instance configured (it has not reached Secrets Manager yet, e.g. it
 * runs on its env fallback).
 */
export function ackFor(instance: Pick<FleetInstance, 'acks'>, secretArn: string): PresenceAck | undefined {
  const exact = instance.acks.find((ack) => ack.secret === secretArn);
  if (exact) return exact;
  return instance.acks.find((ack) => !isSecretsManagerArn(ack.secret) && secretIdMatches(ack.secret, secretArn));
}

/** Which live instances hold `target.versionId` of `target.secretArn`, and which do not (and for how long). */
export function convergenceOf(snapshot: FleetSnapshot, target: ConvergenceTarget): SecretConvergence {
  const holders: InstanceVersion[] = [];
  const others: InstanceVersion[] = [];
  for (const instance of snapshot.live) {
    const ack = ackFor(instance, target.secretArn);
    if (!ack) continue;
    const entry: InstanceVersion = {
      instanceId: instance.id,
      ...(instance.host !== undefined ? { host: instance.host } : {}),
      ...(instance.pid !== undefined ? { pid: instance.pid } : {}),
      versionId: ack.versionId,
      ackedAt: ack.ackedAt,
      lastSeenAt: instance.lastSeenAt,
    };
    (ack.versionId === target.versionId ? holders : others).push(entry);
  }
  const origin = target.since ?? (holders.length > 0 ? Math.min(...holders.map((h) => h.ackedAt)) : undefined);
  const stale = others.map((entry): StaleInstance => {
    if (origin === undefined) return entry;
    const staleSince = Math.max(origin, entry.ackedAt);
    return { ...entry, staleSince, staleForMs: Math.max(0, snapshot.readAt - staleSince) };
  });
  stale.sort((a, b) => (b.staleForMs ?? 0) - (a.staleForMs ?? 0) || a.instanceId.localeCompare(b.instanceId));
  return {
    secretArn: target.secretArn,
    versionId: target.versionId,
    checkedAt: snapshot.readAt,
    instances: holders.length + stale.length,
    holders,
    stale,
    converged: stale.length === 0,
  };
}
