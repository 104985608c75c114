import type { Logger } from '../../common/index.js';
import type { Metrics } from '../../metrics/index.js';
import type { ListenerLink } from './listener-link.js';
import type { ResolvedPresenceOptions } from './options.js';
import { PresenceWriter } from './presence.js';
import type { SecretState } from './secret-state.js';

// Its own file because what the cache's presence reports (every secret held, under which ARN)
// and on which connection it writes (the listener's normal one) are the cache's choices, not
// the presence writer's, which knows nothing of secrets or listeners.

export interface CachePresenceDeps {
  keyPrefix: string;
  presence: ResolvedPresenceOptions;
  link: ListenerLink;
  states: ReadonlyMap<string, SecretState>;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/** Fleet presence and acks (docs/protocol.md) of one cache. */
export function cachePresence(deps: CachePresenceDeps): PresenceWriter {
  const { link, states } = deps;
  return new PresenceWriter({
    keyPrefix: deps.keyPrefix,
    ...deps.presence,
    client: () => link.listener?.commandClient(),
    held: () => heldVersions(states),
    subscribed: () => link.connected,
    now: deps.now,
    logger: deps.logger,
    metrics: deps.metrics,
  });
}

/** What presence acks: every secret held, under its ARN once known. */
function* heldVersions(states: ReadonlyMap<string, SecretState>): Iterable<{ name: string; secret: string; versionId: string }> {
  for (const state of states.values()) {
    if (state.held) yield { name: state.name, secret: state.arn ?? state.held.secretArn, versionId: state.held.versionId };
  }
}
