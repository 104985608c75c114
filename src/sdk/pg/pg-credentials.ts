import { z } from 'zod';
import { InvalidSecretShapeError } from '../rotating/index.js';

/**
 * The RDS secret format (what RDS-managed and the AWS rotation Lambdas store):
 * `{ engine, host, port, username, password, dbname, dbInstanceIdentifier?, masterarn?, … }`.
 * Only username and password are always present: an RDS-managed master-user secret holds just
 * those two, so host/port/dbname may come from the pool options instead. Unknown fields pass.
 */
const rdsSecretSchema = z.looseObject({
  username: z.string().min(1),
  password: z.string().min(1),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(1).max(65_535).optional(),
  dbname: z.string().min(1).optional(),
  engine: z.string().optional(),
});

export type RdsSecret = z.infer<typeof rdsSecretSchema>;

/** What one pool generation connects with. */
export interface PgConnection {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string | undefined;
}

/** Pool options that take precedence over the secret (e.g. a proxy endpoint, a fixed database). */
export interface PgConnectionOverrides {
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
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
export function pgConnectionFromSecret(secretName: string, value: unknown, overrides: PgConnectionOverrides = {}): PgConnection {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSecretShapeError(
      secretName,
      undefined,
      'a JSON object in the RDS format { username, password, host, port, dbname } (is the secret declared with json: true?)',
    );
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
    port: overrides.port ?? secret.port ?? 5432,
    database: overrides.database ?? secret.dbname,
  };
}
