import { createClient, type RedisClientOptions, type RedisClientType, type RedisFunctions, type RedisModules, type RedisScripts, type RespVersions, type TypeMapping } from 'redis';
import { silentLogger, type Logger } from '../../common/index.js';
import type { CredentialSource } from '../cache/index.js';
import { validationBackoff, type ValidateBeforeSwitch } from '../rotating/index.js';
import { installCommandRetry } from './command-retry.js';
import { canDropConnection, dropConnections } from './connection-drop.js';
import { listenForLoginErrors } from './error-listener.js';
import { CredentialFollower } from './credential-follower.js';
import { rejectCredentialOptions } from './node-redis-credentials.js';
import { probeNodeRedis } from './node-redis-validate.js';
import { registerRotationStatus } from './rotation-status.js';

/** What the rotating client adds to node-redis' own options. */
export interface RotatingNodeRedisExtras {
  /** Rotation events (secret name, version ids, never a value). @defaultValue a silent logger */
  logger?: Logger;
  /**
   * How long a login that starts while a recovery is in flight (a refresh of the secret after a
   * refused login) waits for it before logging in with what it has. @defaultValue 10 000 ms
   */
  authRecoveryTimeoutMs?: number;
  /**
   * On a rotation, log in once with the new credentials on a short-lived node-redis connection of
   * its own (the handshake, then PING; in a Cluster, on one of its masters) before new logins use
   * them; if the server refuses them (or does not answer within `socket.connectTimeout`, default
   * 5 000 ms), new logins keep the current ones, the refusal is counted
   * (`nodeRedisRotationStatus().validationFailures`, the cache's `CredentialValidationFailures`)
   * and the check is retried with backoff
   * (`{ retryBackoff: { minMs, maxMs } }`, default 1 s … 60 s). Worth it where the server applies a
   * new password later than Secrets Manager has it (ElastiCache applies a user's `modify-user`
   * asynchronously); see docs/operations.md, "Validate before switching". Throws a TypeError for
   * retry bounds that cannot work. @defaultValue false
   */
  validateBeforeSwitch?: ValidateBeforeSwitch;
}

/** The default of {@link RotatingNodeRedisExtras.authRecoveryTimeoutMs}. */
export const DEFAULT_AUTH_RECOVERY_TIMEOUT_MS = 10_000;

/**
 * node-redis' `createClient` options without the credentials: no `password`, no
 * `credentialsProvider`, no user info in `url` (the secret gives them). `username` is allowed:
 * it is the user when the secret holds a bare token or `{ password }` (ElastiCache RBAC with the
 * user name in config). Everything else goes to `createClient` unchanged, with node-redis'
 * defaults (RESP3, `socket.connectTimeout` 5 000 ms, reconnect backoff 50 ms doubling up to
 * 2 s plus up to 200 ms jitter, commands queued while disconnected, 5 000 ms to be sent).
 */
export type RotatingNodeRedisOptions<
  // `{}` as in node-redis' own signatures, so the client type is the one `createClient` gives.
  /* eslint-disable @typescript-eslint/no-empty-object-type */
  M extends RedisModules = {},
  F extends RedisFunctions = {},
  S extends RedisScripts = {},
  RESP extends RespVersions = 3,
  TYPE_MAPPING extends TypeMapping = {},
  /* eslint-enable @typescript-eslint/no-empty-object-type */
> = Omit<RedisClientOptions<M, F, S, RESP, TYPE_MAPPING>, 'password' | 'credentialsProvider'> & RotatingNodeRedisExtras;

/**
 * A node-redis client (`redis` v6) whose login follows the secret `name` of `source` (a
 * CredentialCache). The app gets the real client of `createClient` and its whole API; call
 * `connect()` on it as usual, and listen to its `'error'` events as node-redis asks.
 *
 * How a rotation reaches it: node-redis asks its credentials provider for the user and password
 * at every handshake, so the client's provider reads them from here; a `rotated` event changes
 * what the next login uses. Live connections are left alone: Redis does not re-check the password
 * of an authenticated connection, so nothing fails and nothing reconnects because of a rotation
 * (ElastiCache ROTATE keeps both passwords valid; SET drops connections, which log in again with
 * the new one).
 *
 * When a login is refused anyway (an invalidation missed or late; the window between a
 * single-user rotation's setSecret and finishSecret that no event can close): the client reports
 * the failure to the cache (a shared refresh of AWSCURRENT); if that shows no change it reads
 * AWSPENDING; the reconnect, which waits for this, logs in with what was found. The commands the
 * refused login took down never ran (the server answered them `NOAUTH`) and are sent again behind
 * the new login (command-retry.ts), so the caller sees no error. The policy is the SDK's one,
 * shared with every rotating client (sdk/cache/auth-recovery.ts).
 *
 * Why not RotatingResource's generations: like the ioredis client, a node-redis client is one
 * long-lived object the app holds, with its subscriptions and listeners; replacing it per
 * rotation would strand them. Only the credentials change, and the provider makes that free.
 *
 * An emergency revoke (the cache's `revoked` event for `name`: `forceRefresh(name, { terminateOld:
 * true })` or a signed `terminateOld` invalidation) switches to the current version, then drops
 * the client's socket: node-redis reconnects at once and the new handshake logs in with the
 * current credentials. Commands waiting for a reply on the dropped socket reject with
 * `ConnectionTerminatedError` (they may have run); commands not yet written are sent after
 * the new login. The drop is an `'error'` event too (that error), never thrown by the client's
 * listener. It uses a node-redis internal (connection-drop.ts); without it the client warns once
 * and `connectionDrop` is false in its status.
 *
 * Recovered refusals are still `'error'` events (node-redis emits them before anyone can tell
 * whether they will be recovered); the client's own listener handles them, and keeps node-redis'
 * rule for every other error: with no `'error'` listener of yours it is thrown, as node-redis
 * would throw it. Not covered: `duplicate()` copies the provider (its logins follow rotations)
 * but not the retry, and SUBSCRIBE calls are not retried (node-redis subscribes again by itself
 * on every reconnect).
 *
 * Throws a TypeError for credential options, and {@link InvalidSecretShapeError} if the secret's
 * current value is not a Redis secret.
 */
export function createRotatingNodeRedis<
  /* eslint-disable @typescript-eslint/no-empty-object-type */
  M extends RedisModules = {},
  F extends RedisFunctions = {},
  S extends RedisScripts = {},
  RESP extends RespVersions = 3,
  TYPE_MAPPING extends TypeMapping = {},
  /* eslint-enable @typescript-eslint/no-empty-object-type */
>(source: CredentialSource, name: string, options: RotatingNodeRedisOptions<M, F, S, RESP, TYPE_MAPPING> = {}): RedisClientType<M, F, S, RESP, TYPE_MAPPING> {
  const { logger, authRecoveryTimeoutMs, validateBeforeSwitch, ...clientOptions } = options;
  rejectCredentialOptions(clientOptions, 'options', 'createRotatingNodeRedis');
  const backoff = validationBackoff(validateBeforeSwitch);
  const log: Logger = logger ?? silentLogger();
  const follower = new CredentialFollower(source, name, clientOptions.username, log, authRecoveryTimeoutMs ?? DEFAULT_AUTH_RECOVERY_TIMEOUT_MS);
  if (backoff) follower.validateWith(backoff, (creds) => probeNodeRedis(clientOptions as RedisClientOptions, creds));
  const client = createClient<M, F, S, RESP, TYPE_MAPPING>({ ...clientOptions, credentialsProvider: follower.provider } as RedisClientOptions<M, F, S, RESP, TYPE_MAPPING>);
  const retrying = installCommandRetry(client, follower);
  if (!retrying) log.warn({ secretName: name }, 'rotating node-redis: node-redis internals not found; commands caught in a refused login will fail instead of being retried');
  if (!canDropConnection(client)) follower.dropUnsupported();
  follower.dropConnections = (err) => dropConnections([client], err);
  listenForLoginErrors(client, follower);
  client.on('ready', () => follower.confirm());
  // Follow rotations and revokes while the client may log in; stop once it is closed (no leak per client).
  client.on('connect', () => follower.listen());
  client.on('end', () => follower.unlisten());
  registerRotationStatus(client, () => follower.status(retrying));
  return client;
}
