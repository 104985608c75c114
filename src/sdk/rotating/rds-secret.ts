import { z } from 'zod';
import { InvalidSecretShapeError } from './errors.js';

/**
 * The RDS secret format, one parser for every database client (pg, mysql2): what RDS-managed
 * secrets and the AWS rotation Lambdas store, `{ engine, host, port, username, password, dbname,
 * dbInstanceIdentifier?, masterarn?, … }`. Only username and password are always present: an
 * RDS-managed master-user secret holds just those two, so host/port/dbname may come from the pool
 * options instead. Unknown fields pass. `engine` is not checked: a MariaDB secret says `mariadb`,
 * a hand-written one may say nothing, and neither changes the wire protocol.
 */
const rdsSecretSchema = z.looseObject({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(1).max(65_535).optional(),
  dbname: z.string().min(1).optional(),
  engine: z.string().optional(),
});

/** What one pool generation connects with. */
export interface DatabaseConnection {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string | undefined;
}

/** Pool options that take precedence over the secret (e.g. a proxy endpoint, a fixed database). */
export interface DatabaseConnectionOverrides {
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
}

/** What differs between the engines: the port when none is named, and how the format is shown in an error. */
export interface RdsEngine {
  defaultPort: number;
  /** e.g. `{ username, password, host, port, dbname }` */
  format: string;
}

const EXPECTED: Record<string, string> = {
  username: 'a non-empty string',
  password: 'a non-empty string',
  host: 'a non-empty string (or set `host` in the pool options)',
  port: 'an integer port number 1-65535',
  dbname: 'a non-empty string',
  engine: 'a string',
};

/**
 * Validates a secret value as an RDS secret and merges the overrides. Errors name the secret and
 * the field (`secret "db" field "password": expected a non-empty string`), never a value: zod's
 * own messages are not used, because some of them quote the input.
 */
export function databaseConnectionFromSecret(secretName: string, value: unknown, overrides: DatabaseConnectionOverrides, engine: RdsEngine): DatabaseConnection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSecretShapeError(secretName, undefined, `a JSON object in the RDS format ${engine.format} (is the secret declared with json: true?)`);
  }
  const parsed = rdsSecretSchema.safeParse(value);
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]?.path[0] ?? '');
    throw new InvalidSecretShapeError(secretName, field || undefined, EXPECTED[field] ?? 'the RDS secret format');
  }
  const secret = parsed.data;
  const host = overrides.host ?? secret.host;
  if (host === undefined) throw new InvalidSecretShapeError(secretName, 'host', EXPECTED.host ?? '');
  return {
    user: secret.username,
    password: secret.password,
    host,
    port: overrides.port ?? secret.port ?? engine.defaultPort,
    database: overrides.database ?? secret.dbname,
  };
}

/**
 * `parse` applied once per credential version: a pool's generations and its `rotation.user` read
 * the same parse of the version in use, and a secret read again under the same version is not
 * parsed again. Only the latest version is kept.
 */
export function parsedPerVersion<T>(parse: (value: unknown) => T): (creds: { versionId: string; value: unknown }) => T {
  let latest: { versionId: string; parsed: T } | undefined;
  return (creds) => {
    if (latest?.versionId !== creds.versionId) latest = { versionId: creds.versionId, parsed: parse(creds.value) };
    return latest.parsed;
  };
}
