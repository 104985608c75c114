import { isRedisAuthError } from '../../redis/index.js';
import { CredentialsRejectedError } from '../rotating/index.js';
import type { CredentialFollower } from './credential-follower.js';

/**
 * The node-redis internals the retry wraps (node-redis 5/6): every command, script and function
 * call ends in `sendCommand` of the client's real instance (`_self`: the object `createClient`
 * returns is a prototype-linked proxy of it), MULTI in `_executeMulti`, a pipeline in
 * `_executePipeline`. Checked at runtime; if a future node-redis renames them, the retry is not
 * installed and the status says so (`commandRetry: false`).
 */
interface ClientInternals {
  _self?: ClientInternals;
  sendCommand?: (...args: unknown[]) => Promise<unknown>;
  _executeMulti?: (...args: unknown[]) => Promise<unknown>;
  _executePipeline?: (...args: unknown[]) => Promise<unknown>;
}

const WRAPPED = ['sendCommand', '_executeMulti', '_executePipeline'] as const;

/** Attempts per command: the first, then one retry per recovery step (refresh, AWSPENDING), as RotatingResource.run. */
const MAX_ATTEMPTS = 3;

/** Commands that authenticate: their own WRONGPASS is the caller's answer, not a stale login of ours. */
const AUTH_COMMANDS = new Set(['AUTH', 'HELLO']);

const installed = new WeakSet<object>();

/**
 * Makes the commands of one node-redis connection survive a refused login.
 *
 * Why this is needed, and why it is safe: node-redis writes the commands queued while it was
 * disconnected right behind the handshake, in the same write. When the handshake's AUTH/HELLO
 * is refused (`WRONGPASS`), the server answers each of those commands `NOAUTH` without running
 * it, and node-redis rejects them (or flushes them with the handshake's error). Those commands
 * never ran, so sending them again once the credentials are fixed cannot run anything twice —
 * unlike a command cut off by a dropped connection, which may have run, and which this never
 * retries (only a Redis authentication error is). A retry first waits for the recovery the
 * refused login started (the credentials provider makes the next handshake wait for it too), so
 * it goes out behind a login with the new credentials. After the third refusal, or when no other
 * credentials exist, the command rejects with {@link CredentialsRejectedError} (cause: the
 * server's error).
 *
 * Not covered: SUBSCRIBE and friends (node-redis subscribes again by itself on every reconnect),
 * and a default user that is `on nopass` (commands after a refused AUTH would then run as that
 * user, not fail: give the default user a password or turn it off, as ElastiCache RBAC does).
 *
 * Returns false when the internals were not found (nothing is changed then).
 */
export function installCommandRetry(client: unknown, follower: CredentialFollower): boolean {
  const self = (client as ClientInternals | undefined)?._self;
  if (self === undefined || WRAPPED.some((key) => typeof self[key] !== 'function')) return false;
  if (installed.has(self)) return true;
  installed.add(self);
  for (const key of WRAPPED) {
    const original = self[key] as (...args: unknown[]) => Promise<unknown>;
    const exempt = key === 'sendCommand' ? isAuthCommand : () => false;
    // An own property of the instance: node-redis' own calls (`this.sendCommand`, from the
    // instance or from a `withCommandOptions` proxy of it) find it before the prototype's.
    self[key] = function retrying(this: unknown, ...args: unknown[]): Promise<unknown> {
      if (exempt(args)) return original.apply(this, args);
      return withAuthRetry(() => original.apply(this, args), follower);
    };
  }
  return true;
}

async function withAuthRetry<R>(attempt: () => Promise<R>, follower: CredentialFollower): Promise<R> {
  const tried = [follower.currentVersionId];
  for (let n = 1; ; n += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (!isRedisAuthError(err)) throw err;
      const worthIt = n < MAX_ATTEMPTS && (await follower.commandRefused(err as Error));
      if (!worthIt) {
        follower.countUnrecovered();
        throw new CredentialsRejectedError(follower.name, tried, err);
      }
      follower.countRetry();
      if (!tried.includes(follower.currentVersionId)) tried.push(follower.currentVersionId);
    }
  }
}

function isAuthCommand(args: unknown[]): boolean {
  const command = (args[0] as unknown[] | undefined)?.[0];
  return (typeof command === 'string' || Buffer.isBuffer(command)) && AUTH_COMMANDS.has(String(command).toUpperCase());
}
