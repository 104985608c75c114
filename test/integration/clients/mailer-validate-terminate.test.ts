import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RevokedEvent } from '../../../src/sdk/cache/types.js';
import { createRotatingMailer, type RotatingMailer } from '../../../src/sdk/mailer/mailer-client.js';
import { ConnectionTerminatedError } from '../../../src/sdk/rotating/errors.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { startSendLoad } from '../../support/mailer-load.js';
import { startSmtpServer, type SmtpServerHandle } from '../../support/smtp-server.js';
import { waitUntil } from '../../support/wait-until.js';

/**
 * The rotating mailer's `validateBeforeSwitch` (a `verify()` of the new transport) and emergency
 * revoke against a real SMTP dialogue (in-process smtp-server, AUTH required, 535 on bad
 * credentials; the test decides which users the server accepts).
 */

const NAME = 'smtp';
type SmtpSecret = { username: string; password: string };

/** The source double, plus the cache's validation-failure count. */
class CountingSource extends CredentialSourceDouble<SmtpSecret> {
  validationFailures = 0;
  recordValidationFailure(): void {
    this.validationFailures += 1;
  }
}

let server: SmtpServerHandle;
let users = new Map<string, string>();
let hold: { subject: string; arrived: boolean; released: Promise<void> } | undefined;
const mailers: RotatingMailer[] = [];
const log = captureLogger({ test: 'mailer-validate-terminate' });
const secrets: string[] = [];
let counter = 0;

beforeAll(async () => {
  server = await startSmtpServer({
    users: () => users,
    beforeAccept: (msg) => {
      if (!hold || !msg.raw.includes(`Subject: ${hold.subject}`)) return undefined;
      hold.arrived = true;
      return hold.released;
    },
  });
});

afterEach(async () => {
  hold = undefined;
  await Promise.all(mailers.splice(0).map((m) => m.close()));
});

afterAll(async () => {
  await server?.stop();
  for (const secret of secrets) expect(log.lines().filter((line) => line.includes(secret))).toEqual([]);
});

function credentials(): SmtpSecret {
  counter += 1;
  const password = `smtp-pass-${counter}-${Math.random().toString(36).slice(2)}`;
  secrets.push(password);
  return { username: `smtp-user-${counter}`, password };
}

function mailer(source: CredentialSourceDouble<SmtpSecret>, validate: boolean): RotatingMailer {
  const m = createRotatingMailer(
    source,
    NAME,
    { host: server.host, port: server.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 2 },
    { logger: log.logger, ...(validate ? { validateBeforeSwitch: { retryBackoff: { minMs: 50, maxMs: 200 } } } : {}) },
  );
  mailers.push(m);
  return m;
}

const message = (subject: string) => ({ from: 'app@example.test', to: 'someone@example.test', subject, text: 'hello' });

describe('createRotatingMailer: validateBeforeSwitch and terminateOld against a real SMTP server', () => {
  it('keeps sending with the working credentials while the server refuses the new ones, then switches once it accepts them: 0 failed sends', async () => {
    const old = credentials();
    users = new Map([[old.username, old.password]]);
    const source = new CountingSource(NAME, old);
    const m = mailer(source, true);
    const load = startSendLoad(m, 2, 'validate');
    await waitUntil(() => load.completed() > 20, { message: 'the load to get going' });

    const next = credentials();
    const newVersion = source.setCurrent(next); // the SMTP server does not know `next` yet
    source.publish();
    await waitUntil(() => m.status().validationFailures >= 2, { message: 'two refused checks' });
    const before = load.completed();
    await waitUntil(() => load.completed() > before + 20, { message: 'sends meanwhile' });
    expect(m.status()).toMatchObject({ versionId: 'v1', authFailures: 0 });
    expect(source.validationFailures).toBe(m.status().validationFailures);

    users = new Map([[old.username, old.password], [next.username, next.password]]); // the server catches up
    await waitUntil(() => m.status().versionId === newVersion, { message: 'the switch once the server accepts the new credentials' });
    // The old transport drains (its last sends may still open a connection), then the old user goes.
    await waitUntil(() => m.status().transportsClosed === m.status().transportsCreated - 1, { message: 'the old transport closed' });
    users = new Map([[next.username, next.password]]);
    const after = load.completed();
    await waitUntil(() => load.completed() > after + 20, { message: 'sends on the new credentials' });
    const result = await load.stop();

    expect(result.failures).toEqual([]);
    expect(m.status()).toMatchObject({ authFailures: 0, recoveries: 0 });
    expect(server.messages.at(-1)?.user).toBe(next.username);
  });

  it('on revoked, closes the old pooled transport at once: its send in flight fails with ConnectionTerminatedError, new sends use the new credentials', async () => {
    const old = credentials();
    const next = credentials();
    users = new Map([[old.username, old.password], [next.username, next.password]]);
    const source = new CountingSource(NAME, old);
    const m = mailer(source, false);
    await m.sendMail(message('warm-up'));
    let release = (): void => {};
    hold = { subject: 'in-flight', arrived: false, released: new Promise<void>((resolve) => (release = resolve)) };
    const inFlight = m.sendMail(message('in-flight')).then(
      () => 'sent',
      (err: unknown) => err,
    );
    await waitUntil(() => hold?.arrived === true, { message: 'the send to be in flight' });
    const newVersion = source.setCurrent(next);
    source.publish();
    expect(server.openConnections(old.username)).toBeGreaterThan(0); // draining: the send holds it

    source.emit('revoked', { name: NAME, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp-AbCdEf', versionId: newVersion, trigger: 'force' } satisfies RevokedEvent);

    const error = await inFlight;
    release();
    expect(error).toBeInstanceOf(ConnectionTerminatedError);
    await waitUntil(() => server.openConnections(old.username) === 0, { message: 'the old connections closed on the server' });
    await m.sendMail(message('after'));
    expect(server.messages.at(-1)?.user).toBe(next.username);
    expect(m.status().terminations).toBe(1);
  });
});
