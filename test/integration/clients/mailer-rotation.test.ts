import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { CredentialsRejectedError } from '../../../src/sdk/rotating/errors.js';
import { createRotatingMailer, type RotatingMailer, type RotatingMailerTransportOptions } from '../../../src/sdk/mailer/mailer-client.js';
import { deriveSesSmtpPassword } from '../../../src/sdk/mailer/ses-smtp-password.js';
import { CredentialSourceDouble } from '../../support/credential-source-double.js';
import { captureLogger } from '../../support/log-capture.js';
import { startSmtpServer, type SmtpServerHandle } from '../../support/smtp-server.js';
import { waitUntil } from '../../support/wait-until.js';
import { startSendLoad } from '../../support/mailer-load.js';

/**
 * The rotating mailer against a real SMTP dialogue (in-process smtp-server, AUTH required,
 * 535 on bad credentials). A "rotation" replaces the server's user table — only the new
 * credentials work from then on — or holds both for a while (an overlap). Credentials come
 * from a CredentialSourceDouble: `setCurrent` = the secret changed, `publish` = the
 * invalidation reached the app.
 */

const NAME = 'smtp';
type SmtpSecret = { username: string; password: string };

let server: SmtpServerHandle;
let users = new Map<string, string>();
const mailers: RotatingMailer[] = [];
/** Holds messages whose subject matches until the test releases them (a send kept in flight). */
let hold: { subject: string; arrived: boolean; released: Promise<void> } | undefined;

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

const log = captureLogger({ test: 'mailer-rotation' });
const allSecrets: string[] = [];

afterAll(async () => {
  await server?.stop();
  // Every switch, recovery and pending fallback above was logged; no line may carry a secret.
  const lines = log.lines();
  expect(lines.length).toBeGreaterThan(20);
  for (const secret of allSecrets) expect(lines.filter((line) => line.includes(secret))).toEqual([]);
});

function mailer(source: CredentialSourceDouble<unknown>, options: Partial<RotatingMailerTransportOptions> = {}): RotatingMailer {
  const m = createRotatingMailer(source, NAME, { host: server.host, port: server.port, secure: false, ignoreTLS: true, ...options }, { logger: log.logger });
  mailers.push(m);
  return m;
}

let counter = 0;
function credentials(): SmtpSecret {
  counter += 1;
  const password = `smtp-pass-${counter}-${Math.random().toString(36).slice(2)}`;
  allSecrets.push(password);
  return { username: `smtp-user-${counter}`, password };
}

const message = (subject: string) => ({ from: 'app@example.test', to: 'someone@example.test', subject, text: 'hello' });

describe('createRotatingMailer against a real SMTP server', () => {
  it('keeps 3 sendMail loops failure-free across 10 hard-switch rotations and 1 overlap rotation', { timeout: 120_000 }, async () => {
    // Prepare
    let current = credentials();
    users = new Map([[current.username, current.password]]);
    const source = new CredentialSourceDouble<unknown>(NAME, current);
    const m = mailer(source);
    const failuresBefore = server.counts.authFailures;
    const load = startSendLoad(m, 3, 'rotation');
    await waitUntil(() => load.completed() > 30, { message: 'the load to get going' });

    // Act: 10 hard switches (the server accepts only the new pair from that moment; the
    // invalidation follows, so sends in between hit 535), then one overlap (both valid)
    for (let i = 0; i < 10; i += 1) {
      const next = credentials();
      const sends = load.completed();
      source.setCurrent(next);
      users = new Map([[next.username, next.password]]);
      await waitUntil(() => load.completed() > sends + 5, { message: 'sends during the switch window' });
      source.publish();
      current = next;
      await waitUntil(() => load.completed() > sends + 20, { message: `progress after rotation ${i + 1}` });
    }
    const overlap = credentials();
    const sends = load.completed();
    source.setCurrent(overlap);
    users = new Map([[current.username, current.password], [overlap.username, overlap.password]]);
    source.publish();
    await waitUntil(() => load.completed() > sends + 20, { message: 'progress during the overlap' });
    users = new Map([[overlap.username, overlap.password]]);
    await waitUntil(() => load.completed() > sends + 40, { message: 'progress after the old pair was revoked' });
    const result = await load.stop();

    // Assess
    expect(result.failures).toEqual([]);
    const status = m.status();
    expect(status).toMatchObject({ versionId: 'v12', mode: 'current', unrecovered: 0 });
    const lastMessages = server.messages.slice(-5);
    expect(lastMessages.every((msg) => msg.user === overlap.username)).toBe(true);
    console.info(
      `[smtp 10 hard + 1 overlap] sends=${result.operations} failed=${result.failures.length} maxLatencyMs=${result.maxLatencyMs.toFixed(1)} ` +
        `p99LatencyMs=${result.p99LatencyMs.toFixed(2)} server535=${server.counts.authFailures - failuresBefore} status=${JSON.stringify(status)}`,
    );
  });

  it('keeps a pooled transport (connections recycled every 5 messages) failure-free across 10 hard-switch rotations', { timeout: 120_000 }, async () => {
    // Prepare
    const first = credentials();
    users = new Map([[first.username, first.password]]);
    const source = new CredentialSourceDouble<unknown>(NAME, first);
    const m = mailer(source, { pool: true, maxConnections: 3, maxMessages: 5 });
    const failuresBefore = server.counts.authFailures;
    const load = startSendLoad(m, 6, 'pooled');
    await waitUntil(() => load.completed() > 30, { message: 'the load to get going' });
    const rotated: string[] = [];

    // Act: odd rotations publish at once; even ones leave a window where new pool connections
    // are refused (535) and the pool's still-open old connections keep delivering
    for (let i = 0; i < 10; i += 1) {
      const next = credentials();
      const sends = load.completed();
      source.setCurrent(next);
      users = new Map([[next.username, next.password]]);
      if (i % 2 === 1) await waitUntil(() => load.completed() > sends + 10, { message: 'sends during the switch window' });
      source.publish();
      rotated.push(next.username);
      await waitUntil(() => load.completed() > sends + 30, { message: `progress after rotation ${i + 1}` });
    }
    const result = await load.stop();
    await waitUntil(() => m.status().transportsClosed === 10, { message: 'every retired pool to be closed' });
    await waitUntil(() => rotated.slice(0, -1).every((user) => server.openConnections(user) === 0) && server.openConnections(first.username) === 0, {
      message: 'no connection of a retired pool left open',
    });

    // Assess
    expect(result.failures).toEqual([]);
    expect(m.status()).toMatchObject({ versionId: 'v11', transportsCreated: 11, transportsClosed: 10, unrecovered: 0 });
    console.info(
      `[smtp pooled 10 hard] sends=${result.operations} failed=${result.failures.length} maxLatencyMs=${result.maxLatencyMs.toFixed(1)} ` +
        `p99LatencyMs=${result.p99LatencyMs.toFixed(2)} server535=${server.counts.authFailures - failuresBefore} status=${JSON.stringify(m.status())}`,
    );
  });

  it('recovers from a missed invalidation: 535 → one refresh → the send is re-sent once and delivered', async () => {
    // Prepare
    const first = credentials();
    users = new Map([[first.username, first.password]]);
    const source = new CredentialSourceDouble<unknown>(NAME, first);
    const m = mailer(source);
    await m.sendMail(message('before'));
    const next = credentials();
    source.setCurrent(next); // no publish: the invalidation is lost
    users = new Map([[next.username, next.password]]);
    const failuresBefore = server.counts.authFailures;
    const delivered = server.messages.length;

    // Act
    const info = await m.sendMail(message('after the missed invalidation'));

    // Assess
    expect(info.accepted).toEqual(['someone@example.test']);
    expect(server.counts.authFailures - failuresBefore).toBe(1);
    expect(server.messages.length - delivered).toBe(1);
    expect(server.messages.at(-1)?.user).toBe(next.username);
    expect(source.counts).toMatchObject({ authFailureReports: 1, authRecoveries: 1, pendingReads: 0 });
    expect(m.status()).toMatchObject({ versionId: 'v2', switches: 1, recoveries: 1 });
  });

  it('falls back to AWSPENDING while the refreshed AWSCURRENT is still rejected', async () => {
    // Prepare: setSecret ran (the server has the new pair) but finishSecret did not
    const first = credentials();
    const pending = credentials();
    const source = new CredentialSourceDouble<unknown>(NAME, first);
    const m = mailer(source);
    source.setPending(pending);
    users = new Map([[pending.username, pending.password]]);

    // Act
    await m.sendMail(message('pending window'));

    // Assess
    expect(server.messages.at(-1)?.user).toBe(pending.username);
    expect(m.status()).toMatchObject({ mode: 'pending', recoveries: 1 });
    expect(source.counts).toMatchObject({ authFailureReports: 1, pendingReads: 1, authRecoveries: 1 });
  });

  it('rejects with CredentialsRejectedError (cause: the 535) when no credentials work', async () => {
    // Prepare
    const source = new CredentialSourceDouble<unknown>(NAME, credentials());
    const m = mailer(source);
    users = new Map([[credentials().username, 'nobody-has-this']]);

    // Act
    const sent = m.sendMail(message('doomed'));

    // Assess
    await expect(sent).rejects.toBeInstanceOf(CredentialsRejectedError);
    await expect(sent).rejects.toMatchObject({ authCode: 'EAUTH', cause: { responseCode: 535 } });
  });

  it('replaces a pooled transport on rotation and closes the old pool after its in-flight send', { timeout: 60_000 }, async () => {
    // Prepare: a pool with open, authenticated connections
    const first = credentials();
    users = new Map([[first.username, first.password]]);
    const source = new CredentialSourceDouble<unknown>(NAME, first);
    const m = mailer(source, { pool: true, maxConnections: 2 });
    await Promise.all([m.sendMail(message('warm 1')), m.sendMail(message('warm 2'))]);
    expect(server.openConnections(first.username)).toBeGreaterThan(0);
    let release!: () => void;
    hold = { subject: 'in flight across the rotation', arrived: false, released: new Promise<void>((resolve) => (release = resolve)) };
    const inFlight = m.sendMail(message('in flight across the rotation'));
    await waitUntil(() => hold?.arrived === true, { message: 'the in-flight send to reach DATA on the server' });

    // Act: overlap rotation while a send is held in the old pool
    const next = credentials();
    source.setCurrent(next);
    users = new Map([[first.username, first.password], [next.username, next.password]]);
    source.publish();
    const afterRotation = await m.sendMail(message('after rotation'));

    // Assess: the new send used the new pool; the old pool stays until its send is done
    expect(afterRotation.accepted).toEqual(['someone@example.test']);
    expect(server.messages.at(-1)?.user).toBe(next.username);
    expect(m.status()).toMatchObject({ transportsCreated: 2, transportsClosed: 0 });
    expect(server.openConnections(first.username)).toBeGreaterThan(0);

    release();
    await inFlight;
    await waitUntil(() => m.status().transportsClosed === 1, { message: 'the old pool to be closed once its send finished' });
    await waitUntil(() => server.openConnections(first.username) === 0, { message: 'the old pool connections to close' });
    expect(server.openConnections(next.username)).toBeGreaterThan(0);
  });

  it('sends with an IAM access key pair: user = accessKeyId, password derived for the region, across a key rotation', async () => {
    // Prepare: the server plays SES in eu-west-1
    const region = 'eu-west-1';
    const key1 = { accessKeyId: 'AKIAEXAMPLEKEY000001', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    const key2 = { accessKeyId: 'AKIAEXAMPLEKEY000002', secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY' };
    allSecrets.push(key1.secretAccessKey, key2.secretAccessKey, deriveSesSmtpPassword(key1.secretAccessKey, region), deriveSesSmtpPassword(key2.secretAccessKey, region));
    users = new Map([[key1.accessKeyId, deriveSesSmtpPassword(key1.secretAccessKey, region)]]);
    const source = new CredentialSourceDouble<unknown>(NAME, { ...key1, region });
    const m = mailer(source);

    // Act
    await m.sendMail(message('iam key 1'));
    source.setCurrent({ ...key2, region });
    users = new Map([[key2.accessKeyId, deriveSesSmtpPassword(key2.secretAccessKey, region)]]);
    source.publish();
    await m.sendMail(message('iam key 2'));

    // Assess
    expect(server.messages.slice(-2).map((msg) => msg.user)).toEqual([key1.accessKeyId, key2.accessKeyId]);
    expect(m.status()).toMatchObject({ credentialKind: 'iam-key', versionId: 'v2', authFailures: 0 });
  });

  it('derives for transportOptions.sesRegion when the key pair secret has no region', async () => {
    // Prepare
    const key = { accessKeyId: 'AKIAEXAMPLEKEY000003', secretAccessKey: 'some+secret+key' };
    users = new Map([[key.accessKeyId, deriveSesSmtpPassword(key.secretAccessKey, 'us-west-1')]]);
    const source = new CredentialSourceDouble<unknown>(NAME, key);

    // Act
    const info = await mailer(source, { sesRegion: 'us-west-1' }).sendMail(message('region from options'));

    // Assess
    expect(info.accepted).toEqual(['someone@example.test']);
    expect(server.messages.at(-1)?.user).toBe(key.accessKeyId);
  });

  it('verify() logs in with the current credentials and recovers a stale one', async () => {
    // Prepare
    const first = credentials();
    users = new Map([[first.username, first.password]]);
    const source = new CredentialSourceDouble<unknown>(NAME, first);
    const m = mailer(source, { pool: true });
    await expect(m.verify()).resolves.toBe(true);
    const next = credentials();
    source.setCurrent(next);
    users = new Map([[next.username, next.password]]);

    // Act + Assess
    await expect(m.verify()).resolves.toBe(true);
    expect(source.counts.authRecoveries).toBe(1);
  });
});
