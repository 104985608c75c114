/* global process, setInterval, clearInterval */
// The example app instance of docker-compose.yml: what an app does with rotation-relay, in
// plain JavaScript. A credential cache subscribed to the worker's invalidations, a rotating pg
// pool and a rotating nodemailer transport under light traffic, and `status()` every 10 s
// (versions, pub/sub state, counters — never a value). Run it from the image (`dist/` built) or
// from a checkout after `npm run build`:
//   AWS_REGION=… AWS_ENDPOINT_URL=… ROTATION_RELAY_REDIS_URL=… DEMO_SECRET_PREFIX=… node examples/app.mjs
// The secrets are the ones infra/compose/init.mjs creates: `<prefix>postgres` (RDS format) and
// `<prefix>smtp` ({ username, password }).
import { createCredentialCache, createLogger } from 'rotation-relay';
import { createRotatingMailer } from 'rotation-relay/mailer';
import { createRotatingPgPool } from 'rotation-relay/pg';

const prefix = process.env.DEMO_SECRET_PREFIX || 'rotation-relay/demo/';
const logger = createLogger({ base: { component: 'example-app' } });

const cache = createCredentialCache({
  secrets: {
    db: { secretId: `${prefix}postgres`, json: true },
    mail: { secretId: `${prefix}smtp`, json: true },
  },
  redis: { url: process.env.ROTATION_RELAY_REDIS_URL || 'redis://127.0.0.1:6379', cluster: false, keyPrefix: 'rotation-relay' },
  // Required with redis (docker-compose.yml passes the worker's): without keys createCredentialCache throws.
  signingKeys: (process.env.ROTATION_RELAY_SIGNING_KEYS || '').split(',').filter(Boolean),
  logger,
});
await cache.start();

const db = createRotatingPgPool(cache, 'db', { max: 4, logger });
const mail = cache.get('mail');
const mailer = createRotatingMailer(cache, 'mail', {
  host: mail.host || 'mailpit',
  port: Number(mail.port || 1025),
  secure: false,
  ignoreTLS: true,
});

cache.on('rotated', ({ name, versionId, trigger }) => logger.info({ name, versionId, trigger }, 'credentials rotated'));

let sent = 0;
const traffic = setInterval(async () => {
  try {
    await db.query('SELECT 1');
    if (sent % 10 === 0) {
      await mailer.sendMail({ from: 'app@example.test', to: 'ops@example.test', subject: `example app ${sent}`, text: 'hello' });
    }
    sent += 1;
  } catch (error) {
    logger.error({ err: { name: error.name, code: error.code, message: error.message } }, 'operation failed');
  }
}, 1_000);
const report = setInterval(() => logger.info({ status: cache.status() }, 'status'), 10_000);

const stop = async () => {
  clearInterval(traffic);
  clearInterval(report);
  await Promise.allSettled([db.end(), mailer.close()]);
  await cache.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
