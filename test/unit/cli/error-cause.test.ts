import { connect } from 'node:net';
import { DescribeSecretCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { describeCause, describeError } from '../../../src/common/error-cause.js';
import { RotationRelayError } from '../../../src/common/errors.js';
import { SecretsManagerUnavailableError } from '../../../src/secrets/errors.js';
import { freePort } from '../../support/free-port.js';

const SENTINEL = 'secret-value-SENTINEL-42';

/** The error Node gives for a TCP connect to a port nothing listens on. */
async function refusedConnect(port: number): Promise<Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('error', (error) => resolve(error));
  });
}

describe('describeError / describeCause: why, told without secret values', () => {
  it('names the refused address of a socket error, through a wrapper of ours', async () => {
    const port = await freePort();
    const refused = await refusedConnect(port);
    const wrapped = new SecretsManagerUnavailableError('app/db', 'DescribeSecret', { cause: refused });

    expect(describeError(refused)).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(describeCause(wrapped)).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('gives what the AWS SDK saw when it could not reach the endpoint', async () => {
    const port = await freePort();
    const client = new SecretsManagerClient({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const error = await client.send(new DescribeSecretCommand({ SecretId: 'app/db' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    client.destroy();

    expect(describeError(error)).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('reduces an AWS service exception to its name and HTTP status: its message can quote request data', () => {
    const error = new ResourceNotFoundException({ $metadata: { httpStatusCode: 400 }, message: `no secret ${SENTINEL}` });

    expect(describeError(error)).toBe('ResourceNotFoundException (HTTP 400)');
    expect(describeCause(new RotationRelayError('SECRETS_MANAGER_UNAVAILABLE', 'wrapped', { cause: error }))).toBe('ResourceNotFoundException (HTTP 400)');
  });

  it('never shows a response body the SDK could not parse (it could be a GetSecretValue answer)', () => {
    const error = Object.assign(new SyntaxError(`Unexpected token in {"SecretString":"${SENTINEL}"}`), { $metadata: { httpStatusCode: 200 } });

    expect(describeError(error)).toBe('SyntaxError (HTTP 200)');
  });

  it('shows the Redis auth and permission replies in full, other replies by their code only', () => {
    expect(describeError(new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'))).toBe(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(describeError(new ReplyError("NOPERM this user has no permissions to run the 'subscribe' command"))).toContain('NOPERM');
    // Redis quotes the arguments of a command it does not know: they stay out.
    expect(describeError(new ReplyError(`ERR unknown command 'x', with args beginning with: '${SENTINEL}'`))).toBe('Redis replied ERR');
  });

  it('names a TLS certificate failure by its code and text', () => {
    const error = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });

    expect(describeCause(new Error('Redis not ready', { cause: error }))).toBe('SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain');
  });

  it('looks inside an AggregateError (Node trying each address of "localhost")', async () => {
    const refused = await refusedConnect(await freePort());
    const aggregate = new AggregateError([refused], '');

    expect(describeError(aggregate)).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('masks URL credentials even inside texts it shows', () => {
    const error = Object.assign(new Error(`connect ECONNREFUSED redis://user:${SENTINEL}@host:6379`), { code: 'ECONNREFUSED', syscall: 'connect' });

    expect(describeError(error)).toBe('connect ECONNREFUSED redis://***@host:6379');
  });

  it('says nothing more than the class of a plain error, and undefined when the chain has nothing', () => {
    expect(describeError(new Error(`boom ${SENTINEL}`))).toBe('Error');
    expect(describeCause(new Error('top'))).toBeUndefined();
  });
});
