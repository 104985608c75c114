import { describe, expect, it } from 'vitest';
import { InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';
import { mysql2ConnectionFromSecret } from '../../../src/sdk/mysql2/mysql2-credentials.js';

/** An RDS MySQL secret as the AWS rotation Lambdas store it. */
const RDS = {
  engine: 'mysql',
  host: 'orders.cluster-abc123.eu-west-1.rds.amazonaws.com',
  port: 3306,
  username: 'app_a',
  password: 'S3cr3t-Value-9',
  dbname: 'orders',
  dbClusterIdentifier: 'orders',
};

function failure(value: unknown, overrides = {}): InvalidSecretShapeError {
  try {
    mysql2ConnectionFromSecret('orders-db', value, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSecretShapeError);
    return err as InvalidSecretShapeError;
  }
  throw new Error('expected a validation error');
}

describe('mysql2ConnectionFromSecret (RDS MySQL secret format)', () => {
  it('maps the RDS fields to a mysql2 connection, extra fields allowed', () => {
    expect(mysql2ConnectionFromSecret('orders-db', RDS)).toEqual({
      user: 'app_a',
      password: 'S3cr3t-Value-9',
      host: RDS.host,
      port: 3306,
      database: 'orders',
    });
  });

  it('accepts a port given as a string and defaults it to 3306 (not 5432), and a secret without dbname', () => {
    expect(mysql2ConnectionFromSecret('orders-db', { ...RDS, port: '3307' }).port).toBe(3307);
    const { port: _port, dbname: _dbname, ...bare } = RDS;
    expect(mysql2ConnectionFromSecret('orders-db', bare)).toMatchObject({ port: 3306, database: undefined });
  });

  it('takes MariaDB and engine-less secrets alike: engine is not checked', () => {
    expect(mysql2ConnectionFromSecret('orders-db', { ...RDS, engine: 'mariadb' }).user).toBe('app_a');
    const { engine: _engine, ...noEngine } = RDS;
    expect(mysql2ConnectionFromSecret('orders-db', noEngine).user).toBe('app_a');
  });

  it('lets pool options override host, port and database (an RDS Proxy endpoint; RDS-managed secrets hold only username/password)', () => {
    const conn = mysql2ConnectionFromSecret('orders-db', { username: 'admin', password: 'pw-123456' }, { host: 'orders.proxy-abc.eu-west-1.rds.amazonaws.com', port: 13306, database: 'app' });
    expect(conn).toEqual({ user: 'admin', password: 'pw-123456', host: 'orders.proxy-abc.eu-west-1.rds.amazonaws.com', port: 13306, database: 'app' });
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

  it('explains a value that is not a JSON object without echoing it', () => {
    for (const value of ['plain-string-password', ['S3cr3t-Value-9'], null]) {
      const err = failure(value);
      expect(err.field).toBeUndefined();
      expect(err.message).toContain('json: true');
      expect(err.message).toContain('engine: "mysql"');
      expect(err.message).not.toContain('plain-string-password');
      expect(err.message).not.toContain('S3cr3t-Value-9');
    }
  });
});
