import { databaseConnectionFromSecret, type DatabaseConnection, type DatabaseConnectionOverrides } from '../rotating/index.js';

/** What one pool generation connects with. */
export type PgConnection = DatabaseConnection;

/** Pool options that take precedence over the secret (e.g. a proxy endpoint, a fixed database). */
export type PgConnectionOverrides = DatabaseConnectionOverrides;

/** PostgreSQL's default port, used when neither the secret nor the options name one. */
export const PG_DEFAULT_PORT = 5432;

/** The RDS secret (sdk/rotating/rds-secret.ts) as a PostgreSQL connection. */
export function pgConnectionFromSecret(secretName: string, value: unknown, overrides: PgConnectionOverrides = {}): PgConnection {
  return databaseConnectionFromSecret(secretName, value, overrides, { defaultPort: PG_DEFAULT_PORT, format: '{ username, password, host, port, dbname }' });
}
