import { describe, expect, it } from 'vitest';
import { isMysqlAuthError } from '../../../src/sdk/rotating/index.js';

/** What mysql2 rejects a login with (the fields of a real MariaDB 10.11 answer, test/integration/clients/mysql2-rotation.test.ts). */
function mysqlError(code: string, errno: number, sqlState: string): Error {
  return Object.assign(new Error(`${code} from the server`), { code, errno, sqlState, sqlMessage: `${code} from the server` });
}

describe('isMysqlAuthError: only a rejected login is retried with other credentials', () => {
  it('recognises error 1045 ER_ACCESS_DENIED_ERROR, by errno or by code, and inside a cause chain', () => {
    const denied = mysqlError('ER_ACCESS_DENIED_ERROR', 1045, '28000');
    expect(isMysqlAuthError(denied)).toBe(true);
    expect(isMysqlAuthError({ errno: 1045 })).toBe(true);
    expect(isMysqlAuthError({ code: 'ER_ACCESS_DENIED_ERROR' })).toBe(true);
    expect(isMysqlAuthError(new Error('query failed', { cause: denied }))).toBe(true);
  });

  it.each([
    ['1044: no access to the database (any password fails the same way)', mysqlError('ER_DBACCESS_DENIED_ERROR', 1044, '42000')],
    ['1227: a missing privilege', mysqlError('ER_SPECIFIC_ACCESS_DENIED_ERROR', 1227, '42000')],
    ['1064: a syntax error', mysqlError('ER_PARSE_ERROR', 1064, '42000')],
    ['a connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED', errno: -111 })],
    ['a connect timeout', Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })],
    ['a pg auth failure (28P01 is not MySQL)', { code: '28P01' }],
    ['a string', 'ER_ACCESS_DENIED_ERROR'],
    ['undefined', undefined],
  ])('leaves %s alone', (_label, err) => {
    expect(isMysqlAuthError(err)).toBe(false);
  });
});
