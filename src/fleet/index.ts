// Fleet convergence: who holds which version, read from the presence and acks every
// CredentialCache writes (docs/protocol.md, "Presence and acknowledgements").
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
export { waitConverged, WAIT_CONVERGED_DEFAULTS, type WaitConvergedOptions, type WaitConvergedResult } from './wait-converged.js';
export { recordTimeline, readTimeline, TIMELINE_MAX_ENTRIES, TIMELINE_TTL_MS, type TimelineEntry } from './timeline.js';
export { FleetReadError, FleetOptionsError, NotConvergedError } from './errors.js';
