/**
 * `rotation-relay/fleet`: wait until every live app instance holds a version before revoking the
 * old one (a rotation Lambda's finishSecret, a deploy pipeline). Reads the presence the caches
 * write (docs/fleet-convergence.md); an app instance itself does not need it. Its errors
 * (NotConvergedError, FleetOptionsError, FleetReadError) are exported by the root, `rotation-relay`.
 */
export {
  waitConverged,
  WAIT_CONVERGED_DEFAULTS,
  type WaitConvergedOptions,
  type WaitConvergedResult,
  type SecretConvergence,
  type InstanceVersion,
  type StaleInstance,
} from '../sdk/fleet/index.js';
