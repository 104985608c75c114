import { describe, expect, it } from 'vitest';
import { mysql2ConnectionFromSecret } from '../../../src/sdk/mysql2/mysql2-credentials.js';
import { pgConnectionFromSecret } from '../../../src/sdk/pg/pg-credentials.js';
import type { DatabaseConnection, DatabaseConnectionOverrides } from '../../../src/sdk/rotating/rds-secret.js';
import { InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';

/**
 * The RDS secret format (src/sdk/rotating/rds-secret.ts) as each database client reads it: pg and
 * mysql2 wrap one parser, so every case runs through both wrappers; what differs per engine (the
 * default port, the format an error shows, the secrets each engine's docs promise) is in the table.
 */
/** An RDS PostgreSQL secret as the AWS rotation Lambdas store it. */
const PG_RDS = { engine: 'postgres', host: 'db.abc123.eu-west-1.rds.amazonaws.com', port: 5432, username: 'app_a', password: 'S3cr3t-Value-9', dbname: 'orders', dbInstanceIdentifier: 'orders-db' };
/** An RDS (Aurora) MySQL secret as the AWS rotation Lambdas store it. */
const MYSQL_RDS = { engine: 'mysql', host: 'orders.cluster-abc123.eu-west-1.rds.amazonaws.com', port: 3306, username: 'app_a', password: 'S3cr3t-Value-9', dbname: 'orders', dbClusterIdentifier: 'orders' };

const ENGINES = [
  {
    name: 'pg',
    parse: pgConnectionFromSecret,
    defaultPort: 5432,
    /** How the error for a value that is not an object shows the expected format. */
    format: '{ username, password, host, port, dbname }',
    rds: PG_RDS,
  },
  {
    name: 'mysql2',
    parse: mysql2ConnectionFromSecret,
    defaultPort: 3306,
    format: '{ engine: "mysql", username, password, host, port, dbname }',
    rds: MYSQL_RDS,
  },
] satisfies Array<{
  name: string;
  parse: (secretName: string, value: unknown, overrides?: DatabaseConnectionOverrides) => DatabaseConnection;
  defaultPort: number;
  format: string;
  rds: { engine: string; host: string; port: number; username: string; password: string; dbname: string };
}>;

describe.each(ENGINES.map((engine) => [engine.name, engine] as const))('%s: the RDS secret format', (_name, { parse, defaultPort, format, rds: RDS }) => {
  function failure(value: unknown): InvalidSecretShapeError {
    try {
      parse('orders-db', value);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidSecretShapeError);
      return err as InvalidSecretShapeError;
    }
    throw new Error('expected a validation error');
  }

  it('maps the RDS fields to a connection, extra fields allowed', () => {
    expect(parse('orders-db', RDS)).toEqual({ user: 'app_a', password: 'S3cr3t-Value-9', host: RDS.host, port: RDS.port, database: 'orders' });
  });

  it(`accepts a port given as a string, defaults it to ${defaultPort}, and takes a secret without dbname`, () => {
    expect(parse('orders-db', { ...RDS, port: String(RDS.port + 1) }).port).toBe(RDS.port + 1);
    const { port: _port, ...noPort } = RDS;
    expect(parse('orders-db', noPort).port).toBe(defaultPort);
    const { dbname: _dbname, ...bare } = noPort;
    expect(parse('orders-db', bare)).toMatchObject({ port: defaultPort, database: undefined });
  });

  it('takes an engine-less secret: engine is not checked', () => {
    const { engine: _engine, ...noEngine } = RDS;
    expect(parse('orders-db', noEngine).user).toBe('app_a');
  });

  it('lets pool options override host, port and database (an RDS Proxy endpoint; RDS-managed secrets hold only username/password)', () => {
    const proxy = { host: 'orders.proxy-abc.eu-west-1.rds.amazonaws.com', port: 10_000 + RDS.port, database: 'app' };
    expect(parse('orders-db', { username: 'admin', password: 'pw-123456' }, proxy)).toEqual({ user: 'admin', password: 'pw-123456', ...proxy });
  });

  it.each([
    ['password', { ...RDS, password: undefined }],
    ['password', { ...RDS, password: '' }],
    ['password', { ...RDS, password: 42 }],
    ['username', { ...RDS, username: undefined }],
    ['port', { ...RDS, port: 'not-a-port' }],
    ['port', { ...RDS, port: 70_000 }],
    ['host', { ...RDS, host: undefined }],
    ['dbname', { ...RDS, dbname: '' }],
    ['engine', { ...RDS, engine: 3306 }],
  ])('names the field "%s" and never echoes a value', (field, value) => {
    const err = failure(value);
    expect(err.field).toBe(field);
    expect(err.code).toBe('SECRET_SHAPE_INVALID');
    expect(err.message).toContain(`secret "orders-db" field "${field}"`);
    for (const v of [RDS.password, RDS.username, RDS.host, 'not-a-port', '70000']) expect(err.message).not.toContain(v);
  });

  it("explains a value that is not a JSON object with the engine's format, without echoing it", () => {
    for (const value of ['plain-string-password', ['S3cr3t-Value-9'], null]) {
      const err = failure(value);
      expect(err.field).toBeUndefined();
      expect(err.message).toContain('json: true');
      expect(err.message).toContain(format);
      expect(err.message).not.toContain('plain-string-password');
      expect(err.message).not.toContain('S3cr3t-Value-9');
    }
  });
});

describe('mysql2: MariaDB', () => {
  it('takes a MariaDB secret as it is: engine "mariadb" speaks the MySQL protocol', () => {
    expect(mysql2ConnectionFromSecret('orders-db', { ...MYSQL_RDS, engine: 'mariadb' }).user).toBe('app_a');
  });
});
