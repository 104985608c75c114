export { ConfigError } from './errors.js';
export type { Env } from './read-env.js';
export { SETTINGS, allSettings } from './settings.js';
export type { Setting } from './setting.js';
export {
  loadAwsConfig,
  loadRedisConfig,
  loadSigningConfig,
  assertSigningChosen,
  UNSIGNED_WARNING,
  loadWorkerConfig,
  loadLogLevel,
  MIN_SIGNING_KEY_BYTES,
  type AwsConfig,
  type RedisConfig,
  type SigningConfig,
  type WorkerConfig,
} from './load.js';
