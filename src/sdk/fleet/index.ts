// Fleet convergence: who holds which version, read from the presence and acks every
// CredentialCache writes (docs/protocol.md, "Presence and acknowledgements"), cross-checked
// against the subscribers Redis itself counts on the invalidation channel.
export { readFleet, type FleetInstance, type StoppedInstance, type FleetSnapshot, type ReadFleetOptions } from './read-fleet.js';
export {
  ackFor,
  convergenceOf,
  type ConvergenceTarget,
  type InstanceVersion,
  type StaleInstance,
  type SecretConvergence,
} from './convergence.js';
export {
  readFleetStatus,
  fleetStatusOf,
  staleInstanceIds,
  type FleetStatus,
  type SecretFleetStatus,
  type ReadFleetStatusOptions,
} from './fleet-status.js';
export {
  accountSubscribers,
  identifyConnection,
  parseClientList,
  LISTEN_CONNECTION_NAME,
  LISTENER_CONNECTION_PREFIX,
  type ChannelReading,
  type ConnectionIdentity,
  type PubsubConnection,
  type SubscriberAccount,
  type UnaccountedConnection,
} from './channel-subscribers.js';
export { readChannel, type ReadChannelOptions } from './read-channel.js';
export { verdictOf, unaccountedWhy, describeConnection, UNACCOUNTED_CAUSES, type Verdict, type VerdictOptions } from './verdict.js';
export { Deadline } from './deadline.js';
export { waitConverged, WAIT_CONVERGED_DEFAULTS, MIN_CHECK_MS, type WaitConvergedOptions, type WaitConvergedResult } from './wait-converged.js';
export { recordTimeline, readTimeline, TIMELINE_MAX_ENTRIES, TIMELINE_TTL_MS, type TimelineEntry } from './timeline.js';
export { FleetReadError, FleetOptionsError, NotConvergedError, type NotConvergedReason } from './errors.js';
