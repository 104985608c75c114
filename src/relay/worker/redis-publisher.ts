import type { WorkerConfig } from '../../config/index.js';
import { createInvalidation, publishIfNewer, publishInvalidation, readPublishedVersion, signIfKeyed } from '../../protocol/index.js';
import type { HandlerDeps } from './handle-message.js';
import type { RedisClient } from '../../common/index.js';

/**
 * Why this exists: the handler (handle-message.ts) decides *when* to publish and *what*; this is
 * the one place that says *how*: through the protocol's all-or-nothing scripts on the worker's
 * Redis connection, under the configured key prefix, signed with the current key when there is
 * one, deduplicated for `dedupeTtlSeconds`. With fast publish off there is no `publishIfNewer`,
 * and every event waits for DescribeSecret.
 */
export type RedisPublisher = Pick<HandlerDeps, 'lastPublished' | 'publish' | 'publishIfNewer'>;

export type PublisherConfig = Pick<WorkerConfig, 'redis' | 'signing' | 'dedupeTtlSeconds' | 'fastPublish' | 'fastPublishMarginMs'>;

/** `connection` is read at each call: the worker's connection exists only once start() made it. */
export function createRedisPublisher(config: PublisherConfig, connection: () => RedisClient): RedisPublisher {
  const { keyPrefix } = config.redis;
  const publishOptions = { dedupeTtlSeconds: config.dedupeTtlSeconds };
  return {
    lastPublished: (secretArn) => readPublishedVersion(connection(), keyPrefix, secretArn),
    publish: (fields, confirmedBy) =>
      publishInvalidation(connection(), keyPrefix, signIfKeyed(createInvalidation(fields), config.signing.keys), {
        ...publishOptions,
        ...(confirmedBy ? { confirmedBy } : {}),
      }),
    ...(config.fastPublish
      ? {
          publishIfNewer: (fields, eventTime) =>
            publishIfNewer(connection(), keyPrefix, signIfKeyed(createInvalidation(fields), config.signing.keys), {
              ...publishOptions,
              eventTime,
              marginMs: config.fastPublishMarginMs,
            }),
        }
      : {}),
  };
}
