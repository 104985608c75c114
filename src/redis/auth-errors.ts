import { someErrorInChain } from '../common/index.js';

const REDIS_AUTH_REPLY = /^(WRONGPASS|NOAUTH)\b|invalid username-password pair|^ERR invalid password/;

/**
 * Redis/Valkey/ElastiCache refused the credentials: `WRONGPASS …` (AUTH with a wrong password or
 * user, Redis ≥ 6), `NOAUTH Authentication required` (a command on an unauthenticated connection),
 * `ERR invalid password` (Redis < 6). ioredis puts the reply text in `message`; a Cluster wraps the
 * node's error as `lastNodeError`, so the chain is searched too. Shared by the rotating ioredis
 * client and the cache's own pub/sub connection, so both retry exactly the same errors.
 */
export function isRedisAuthError(err: unknown): boolean {
  return someErrorInChain(err, (e) => typeof e.message === 'string' && REDIS_AUTH_REPLY.test(e.message));
}
