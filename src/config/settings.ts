import {
  boolSetting,
  enumSetting,
  intSetting,
  optionalSetting,
  requiredSetting,
  stringSetting,
  type Setting,
} from './setting.js';

const URL_PATTERN = /^https?:\/\/[^\s]+$/;
// scheme, optional credentials, host, optional port, optional db number: nothing else, so a
// password with an unencoded `/` or `@` is refused rather than mis-split (and half-logged).
const REDIS_URL_PATTERN = /^rediss?:\/\/(?:[^\s/@]*@)?(?:\[[0-9a-fA-F:.]+\]|[^\s/@:[\]]+)(?::\d+)?(?:\/\d*)?$/;

/**
 * What the patterns above let through but a connection cannot use: a port outside 1–65535
 * (`new URL` throws on it, which surfaced as `TypeError: Invalid URL`) or a URL the WHATWG
 * parser refuses. The reasons never quote the value: the URL may carry a password.
 */
export function urlProblem(value: string): string | undefined {
  const authority = value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0] ?? '';
  // The port comes after the last `@`, so digits in a password are never taken for one.
  const port = /:(\d+)$/.exec(authority.slice(authority.lastIndexOf('@') + 1))?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return 'its port must be from 1 to 65535';
  try {
    new URL(value);
  } catch {
    return 'it is not a valid URL: check the host name';
  }
  return undefined;
}

/**
 * Every environment variable rotation-relay reads, grouped by who reads it. AWS credentials are
 * not here: the AWS SDK's default provider chain reads them (env, profile, IMDS, ECS, IRSA…).
 */
export const SETTINGS = {
  aws: {
    region: optionalSetting(
      'AWS_REGION',
      'AWS region of the queue and the secrets (falls back to `AWS_DEFAULT_REGION`, then to the SDK profile). Required one way or another.',
      /^[a-z]{2}(-[a-z]+)+-\d$/,
      'an AWS region such as eu-west-1',
    ),
    endpoint: optionalSetting(
      'AWS_ENDPOINT_URL',
      'Endpoint for every AWS service (LocalStack, moto_server). Read by the AWS SDK itself; validated here.',
      URL_PATTERN,
      'an http(s) URL such as http://127.0.0.1:5000',
      urlProblem,
    ),
    sqsEndpoint: optionalSetting(
      'AWS_ENDPOINT_URL_SQS',
      'Endpoint for SQS only; wins over `AWS_ENDPOINT_URL`. When either is set, SQS calls go to it rather than to the queue URL\'s host.',
      URL_PATTERN,
      'an http(s) URL',
      urlProblem,
    ),
    secretsManagerEndpoint: optionalSetting(
      'AWS_ENDPOINT_URL_SECRETS_MANAGER',
      'Endpoint for Secrets Manager only; wins over `AWS_ENDPOINT_URL`.',
      URL_PATTERN,
      'an http(s) URL',
      urlProblem,
    ),
  },
  redis: {
    url: stringSetting(
      'ROTATION_RELAY_REDIS_URL',
      'redis://127.0.0.1:6379',
      'Redis/Valkey to publish on and read versions from. `rediss://` for TLS; `redis://user:password@host:port/db` for ACL auth (the password is never logged).',
      REDIS_URL_PATTERN,
      'a redis:// or rediss:// URL such as rediss://user:password@host:6379/0, with special characters in the password percent-encoded',
      urlProblem,
    ),
    cluster: boolSetting(
      'ROTATION_RELAY_REDIS_CLUSTER',
      false,
      'Treat the URL as one seed node of a Redis Cluster (ElastiCache cluster mode, MemoryDB). All keys share one hash tag, so the publish script runs on one shard.',
    ),
    tlsCaFile: optionalSetting(
      'ROTATION_RELAY_REDIS_TLS_CA_FILE',
      'PEM file of the CA that signed the Redis server certificate, for `rediss://` with a private CA. Checked at start-up: it must be readable and hold a certificate, and the URL must be `rediss://`.',
      undefined,
      'a PEM file of the CA that signed the Redis server certificate',
    ),
    passwordSecretId: optionalSetting(
      'ROTATION_RELAY_REDIS_PASSWORD_SECRET_ID',
      'Secret (name or ARN) holding this Redis connection\'s password, when it rotates: a JSON secret with `password` or `authToken`. The worker then follows its rotation (it relays the rotation of the very token it connects with) and the CLI reads it once; both need `secretsmanager:GetSecretValue` on that one secret. The user name still comes from the URL.',
      undefined,
      'a secret name or ARN',
    ),
    keyPrefix: stringSetting(
      'ROTATION_RELAY_KEY_PREFIX',
      'rotation-relay',
      'Prefix `P` of every Redis key and channel (`{P}:invalidations`, `{P}:versions`, …). Worker and subscribers must agree.',
      /^[^{}\s]+$/,
      'a non-empty string without braces or spaces',
    ),
  },
  signing: {
    keys: optionalSetting(
      'ROTATION_RELAY_SIGNING_KEYS',
      'Comma-separated HMAC-SHA256 keys, at least 32 bytes each, current key first (generate one with `openssl rand -base64 48`). The worker signs with the first; subscribers accept any. Required: `worker` and `listen` refuse to start without it unless `ROTATION_RELAY_ALLOW_UNSIGNED=true`. Set but empty is an error, not "unsigned".',
      undefined,
      'comma-separated keys of at least 32 bytes each, current key first',
    ),
    maxAgeSeconds: intSetting(
      'ROTATION_RELAY_MAX_AGE_SECONDS',
      300,
      1,
      86_400,
      'Listeners reject signed invalidations published longer ago than this (replay guard).',
    ),
    clockSkewToleranceMs: intSetting(
      'ROTATION_RELAY_CLOCK_SKEW_TOLERANCE_MS',
      30_000,
      0,
      86_400_000,
      'How far in the future an invalidation\'s `publishedAt` may be (the worker\'s clock ahead of this host\'s) before `listen`, and the worker following its own rotating Redis password, reject it. A clock behind the worker\'s only makes messages look older, which `ROTATION_RELAY_MAX_AGE_SECONDS` covers. Raise it only for a host whose clock cannot be fixed (NTP).',
    ),
    allowUnsigned: boolSetting(
      'ROTATION_RELAY_ALLOW_UNSIGNED',
      false,
      'Run `worker` and `listen` without `ROTATION_RELAY_SIGNING_KEYS`, on purpose: invalidations are then neither signed nor verified, so anyone who can publish on the Redis channel can make every instance re-read its secrets. Both warn at start when it is in effect; ignored when keys are set.',
    ),
  },
  worker: {
    queueUrl: requiredSetting(
      'ROTATION_RELAY_QUEUE_URL',
      'URL of the SQS queue the EventBridge rule feeds (required by `worker`).',
      URL_PATTERN,
      'an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/rotation-relay',
      urlProblem,
    ),
    batchSize: intSetting('ROTATION_RELAY_BATCH_SIZE', 10, 1, 10, 'Messages per ReceiveMessage call (SQS allows at most 10).'),
    consumers: intSetting(
      'ROTATION_RELAY_CONSUMERS',
      4,
      1,
      32,
      'Receive loops polling the queue in one worker process. Each handles one batch at a time (its messages concurrently), so at most consumers × batch size messages are in flight; more loops hide the DescribeSecret round trip at the cost of memory. See docs/operations.md, "Throughput".',
    ),
    waitTimeSeconds: intSetting('ROTATION_RELAY_WAIT_TIME_SECONDS', 20, 0, 20, 'Long-poll wait of each ReceiveMessage call.'),
    visibilityTimeoutSeconds: intSetting(
      'ROTATION_RELAY_VISIBILITY_TIMEOUT_SECONDS',
      30,
      2,
      43_200,
      'How long a received message stays hidden; a message the worker could not finish (Redis down, Secrets Manager failing) reappears after at most this long. Long handling extends it by heartbeat.',
    ),
    dedupeTtlSeconds: intSetting(
      'ROTATION_RELAY_DEDUPE_TTL_SECONDS',
      86_400,
      60,
      1_209_600,
      'How long an event id is remembered to drop SQS redeliveries of the same event. Keep it above the queue\'s retention for exact-once broadcasts of redelivered events.',
    ),
    confirmWindowMs: intSetting(
      'ROTATION_RELAY_CONFIRM_WINDOW_MS',
      3_000,
      0,
      60_000,
      'How long the worker re-reads DescribeSecret while it still shows the last published version but the event names another one (Secrets Manager reads are eventually consistent).',
    ),
    confirmIntervalMs: intSetting('ROTATION_RELAY_CONFIRM_INTERVAL_MS', 200, 10, 10_000, 'Pause between those DescribeSecret re-reads.'),
    fastPublish: boolSetting(
      'ROTATION_RELAY_FAST_PUBLISH',
      false,
      'Publish at once, before DescribeSecret answers, when an event itself says a version became AWSCURRENT (`Secret Label Updated` for AWSCURRENT, `UpdateSecretVersionStage` moving AWSCURRENT) and it is newer than anything the worker knows about that secret; the message is still confirmed with DescribeSecret before it is deleted, and a correction is published if the confirmed version differs. Off by default because a signed broadcast then vouches for what an event on the queue said rather than for what the worker read: see docs/operations.md, "Fast publish (opt-in)".',
    ),
    fastPublishMarginMs: intSetting(
      'ROTATION_RELAY_FAST_PUBLISH_MARGIN_MS',
      100,
      0,
      600_000,
      'How much newer than the last thing known about a secret (the time of the event or DescribeSecret read behind its stored version) an event must be to publish at once; closer events take the DescribeSecret path. Covers clock skew between AWS and the worker\'s clock.',
    ),
    healthPort: intSetting(
      'ROTATION_RELAY_HEALTH_PORT',
      8080,
      0,
      65_535,
      'Port of the `/healthz` (process alive) and `/readyz` (consuming and Redis ready) endpoints; 0 picks a free port.',
    ),
    healthHost: stringSetting('ROTATION_RELAY_HEALTH_HOST', '0.0.0.0', 'Address the health endpoints bind to.'),
    shutdownTimeoutMs: intSetting(
      'ROTATION_RELAY_SHUTDOWN_TIMEOUT_MS',
      30_000,
      1_000,
      600_000,
      'On SIGTERM/SIGINT, how long in-flight messages may take to finish before the worker exits anyway (unfinished messages return to the queue).',
    ),
    metrics: boolSetting(
      'ROTATION_RELAY_METRICS',
      true,
      'Write CloudWatch Embedded Metric Format lines (namespace `RotationRelay`) to stdout.',
    ),
  },
  logging: {
    level: enumSetting(
      'ROTATION_RELAY_LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      'info',
      'Minimum log level (JSON lines on stdout).',
    ),
  },
} as const satisfies Record<string, Record<string, Setting<unknown>>>;

/** Flat list, in declaration order: the source of the README's configuration table. */
export function allSettings(): Array<{ section: string; setting: Setting<unknown> }> {
  return Object.entries(SETTINGS).flatMap(([section, group]) =>
    Object.values(group as Record<string, Setting<unknown>>).map((setting) => ({ section, setting })),
  );
}
