import { databaseConnectionFromSecret, type DatabaseConnection, type DatabaseConnectionOverrides } from '../rotating/index.js';

/** What one pool generation connects with. */
export type Mysql2Connection = DatabaseConnection;

/** Pool options that take precedence over the secret (e.g. an RDS Proxy endpoint, a fixed database). */
export type Mysql2ConnectionOverrides = DatabaseConnectionOverrides;

/** MySQL's default port, used when neither the secret nor the options name one. */
export const MYSQL_DEFAULT_PORT = 3306;

/** The RDS secret (sdk/rotating/rds-secret.ts) as a MySQL, Aurora MySQL or MariaDB connection. */
export function mysql2ConnectionFromSecret(secretName: string, value: unknown, overrides: Mysql2ConnectionOverrides = {}): Mysql2Connection {
  return databaseConnectionFromSecret(secretName, value, overrides, { defaultPort: MYSQL_DEFAULT_PORT, format: '{ engine: "mysql", username, password, host, port, dbname }' });
}
