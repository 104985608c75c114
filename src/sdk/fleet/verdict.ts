import type { SubscriberAccount, UnaccountedConnection } from './channel-subscribers.js';
import type { SecretConvergence } from './convergence.js';
import type { NotConvergedReason } from './errors.js';

export interface VerdictOptions {
  minInstances: number;
  /** Unaccounted subscribers tolerated (known non-reporting listeners). */
  allowUnaccounted: number;
}

export type Verdict = { converged: true } | { converged: false; reason: NotConvergedReason; why: string };

/** What usually opens the gap between the channel and presence; part of every such message. */
export const UNACCOUNTED_CAUSES =
  'usually a subscriber ACL without the presence rights (docs/protocol.md, "Verification rules"), an SDK without presence (or presence: false), or a subscriber in another language that does not write presence';

/**
 * Converged only when no live instance is stale, every subscriber on the channel is accounted for
 * (beyond `allowUnaccounted`) and counted on every node, and at least `minInstances` report the
 * secret. A subscriber nobody accounts for may hold the old credentials: it blocks like a stale
 * instance. The first failing rule names the reason; the others are added to `why`.
 */
export function verdictOf(convergence: SecretConvergence, subscribers: SubscriberAccount, options: VerdictOptions): Verdict {
  const failures: Array<{ reason: NotConvergedReason; why: string }> = [];
  if (convergence.stale.length > 0) {
    const listed = convergence.stale
      .slice(0, 5)
      .map((s) => `${s.instanceId} (${s.versionId})`)
      .join(', ');
    failures.push({
      reason: 'stale',
      why: `${convergence.stale.length} of ${convergence.instances} live instances still hold another version: ${listed}${convergence.stale.length > 5 ? ', …' : ''}`,
    });
  }
  if (!subscribers.complete) {
    const nodes = subscribers.failedNodes.map((n) => `${n.node} (${n.error})`).join(', ');
    failures.push({ reason: 'unaccounted-subscribers', why: `the subscribers on ${subscribers.channel} could not be counted on ${nodes}; at least ${subscribers.subscribers} elsewhere` });
  }
  if (subscribers.unaccounted > options.allowUnaccounted) failures.push({ reason: 'unaccounted-subscribers', why: unaccountedWhy(subscribers) });
  if (convergence.instances < options.minInstances) {
    failures.push({ reason: 'too-few-instances', why: `only ${convergence.instances} live instances report the secret, fewer than minInstances (${options.minInstances})` });
  }
  const first = failures[0];
  if (!first) return { converged: true };
  return { converged: false, reason: first.reason, why: failures.map((f) => f.why).join('; ') };
}

/** "2 of the 5 subscribers on … report no presence (who they can be): usually …". */
export function unaccountedWhy(account: SubscriberAccount): string {
  const names = account.candidates.length > 0 ? ` (${account.candidates.slice(0, 5).map(describeConnection).join(', ')}${account.candidates.length > 5 ? ', …' : ''})` : '';
  const countsOnly =
    account.method === 'counts'
      ? `; CLIENT LIST was not allowed (${account.clientListError ?? 'failed'}), so no connection can be named and a rotation-relay listen session counts too`
      : '';
  return `${account.unaccounted} of the ${account.subscribers} subscribers on ${account.channel} ${account.unaccounted === 1 ? 'reports' : 'report'} no presence${names}: ${UNACCOUNTED_CAUSES}${countsOnly}`;
}

/** `rotation-relay:listener:web-3:42:abc from 10.0.0.5:51234 on 127.0.0.1:6379`. */
export function describeConnection(connection: UnaccountedConnection): string {
  return `${connection.name ?? '(unnamed)'}${connection.addr ? ` from ${connection.addr}` : ''} on ${connection.node}`;
}
