/**
 * The demo's Django instance (`--django`): examples/django_subscriber.py under Debian's python3,
 * with the package from python/ on PYTHONPATH. It prints the same JSON lines as the Node app
 * instances (test/support/app-instance), so the model and the table need nothing of their own.
 */
import { fileURLToPath } from 'node:url';
import { runProcess, type CliProcess } from '../../test/support/cli-process.js';
import { aptInstallCommand, DEBIAN_PYTHON, missingPythonModules, PYTHON_PACKAGE_DIR, type PythonModule } from '../../test/support/python-env.js';
import type { MissingPrerequisite } from './prerequisites.js';

export const DJANGO_EXAMPLE = fileURLToPath(new URL('../../examples/django_subscriber.py', import.meta.url));
const MODULES: PythonModule[] = ['django', 'psycopg2', 'redis', 'django_redis', 'boto3'];

/** What `--django` needs that this machine lacks, with the command that installs it. */
export function missingDjangoPrerequisites(): MissingPrerequisite[] {
  const missing = missingPythonModules(MODULES);
  return missing.length === 0 ? [] : [{ what: `${DEBIAN_PYTHON} with ${missing.join(', ')} (--django)`, install: aptInstallCommand(missing) }];
}

export interface DjangoInstanceConfig {
  instanceId: string;
  aws: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  bus: { url: string; signingKeys: string[] };
  secrets: { db: string; cache: string; mail: string };
  pg: { host: string; port: number };
  redis: { host: string; port: number };
  smtp: { host: string; port: number };
}

export function launchDjangoInstance(config: DjangoInstanceConfig, options: { detached?: boolean } = {}): CliProcess {
  const env: Record<string, string> = {
    PYTHONPATH: PYTHON_PACKAGE_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    AWS_REGION: config.aws.region,
    AWS_DEFAULT_REGION: config.aws.region,
    AWS_ENDPOINT_URL: config.aws.endpoint,
    AWS_ACCESS_KEY_ID: config.aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.aws.credentials.secretAccessKey,
    ROTATION_RELAY_REDIS_URL: config.bus.url,
    ROTATION_RELAY_SIGNING_KEYS: config.bus.signingKeys.join(','),
    APP_INSTANCE_ID: config.instanceId,
    APP_DB_HOST: config.pg.host,
    APP_DB_PORT: String(config.pg.port),
    APP_CACHE_REDIS_URL: `redis://${config.redis.host}:${config.redis.port}/0`,
    APP_SMTP_HOST: config.smtp.host,
    APP_SMTP_PORT: String(config.smtp.port),
    APP_DB_SECRET: config.secrets.db,
    APP_CACHE_SECRET: config.secrets.cache,
    APP_MAIL_SECRET: config.secrets.mail,
  };
  return runProcess(DEBIAN_PYTHON, [DJANGO_EXAMPLE], env, config.instanceId, options);
}
