import { describe, expect, it } from 'vitest';
import { InvalidSecretShapeError } from '../../../src/sdk/rotating/errors.js';
import { pgConnectionFromSecret } from '../../../src/sdk/pg/pg-credentials.js';

const RDS = {
  engine: 'postgres',
  host: 'db.abc123.eu-west-1.rds.amazonaws.com',
  port: 5432,
  username: 'app_a',
  password: 'S3cr3t-Value-9',
  dbname: 'orders',
  dbInstanceIdentifier: 'orders-db',
};

function failure(value: unknown, overrides = {}): InvalidSecretShapeError {
  try {
    pgConnectionFromSecret('orders-db', value, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSecretShapeError);
    return err as InvalidSecretShapeError;
  }
  throw new Error('expected a validation error');
}

describe('pgConnectionFromSecret (RDS secret format)', () => {
  it('maps the RDS fields to a pg connection, extra fields allowed', () => {
    expect(pgConnectionFromSecret('orders-db', RDS)).toEqual({
      user: 'app_a',
      password: 'S3cr3t-Value-9',
      host: RDS.host,
      port: 5432,
      database: 'orders',
    });
  });

  it('accepts a port given as a string and defaults it to 5432', () => {
    expect(pgConnectionFromSecret('orders-db', { ...RDS, port: '6543' }).port).toBe(6543);
    const { port: _port, ...noPort } = RDS;
    expect(pgConnectionFromSecret('orders-db', noPort).port).toBe(5432);
  });

  it('lets pool options override host, port and database (RDS-managed secrets hold only username/password)', () => {
    const conn = pgConnectionFromSecret('orders-db', { username: 'admin', password: 'pw-123456' }, { host: '127.0.0.1', port: 15432, database: 'app' });
    expect(conn).toEqual({ user: 'admin', password: 'pw-123456', host: '127.0.0.1', port: 15432, database: 'app' });
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
  ])('names the field "%s" and never echoes a value', (field, value) => {
    const err = failure(value);
    expect(err.field).toBe(field);
    expect(err.code).toBe('SECRET_SHAPE_INVALID');
    expect(err.message).toContain(`secret "orders-db" field "${field}"`);
    for (const v of [RDS.password, RDS.username, RDS.host, 'not-a-port', '70000']) expect(err.message).not.toContain(v);
  });

  it('explains a value that is not a JSON object without echoing it', () => {
    const err = failure('plain-string-password');
    expect(err.field).toBeUndefined();
    expect(err.message).toContain('json: true');
    expect(err.message).not.toContain('plain-string-password');
  });
});
