import { EventEmitter } from 'node:events';
import nodemailer, { type MailDefaults, type SMTPPoolOptions, type SMTPSentMessageInfo, type SMTPTransportOptions, type SendMailOptions, type Transporter } from 'nodemailer';
import { silentLogger, type Logger } from '../../common/index.js';
import type { CredentialSource } from '../cache/index.js';
import { isSmtpAuthError, RotatingResource, errorSummary, validationBackoff, type CredentialMode, type RotatingResourceStats, type ValidateBeforeSwitch } from '../rotating/index.js';
import { smtpCredentialsFromSecret, type SmtpCredentials } from './mailer-credentials.js';

/**
 * nodemailer SMTP options (single-connection or `pool: true`) without `auth`, which comes from
 * the secret. `sesRegion`: the SES region an IAM access key pair's SMTP password is derived for,
 * when the secret does not carry one (also read from an `email-smtp.<region>.amazonaws.com` host).
 */
export type RotatingMailerTransportOptions = Omit<SMTPPoolOptions, 'auth' | 'url'> & {
  sesRegion?: string;
};

export interface RotatingMailerOptions {
  /** Rotation events (secret name, version ids, never a value). @defaultValue a silent logger */
  logger?: Logger;
  /** nodemailer message defaults (`from`, headers…), as `createTransport`'s second argument. */
  defaults?: MailDefaults;
  /**
   * On a rotation, check the new credentials with the new transport's `verify()` (connect and
   * AUTH, no message) before sends move to it; if the server refuses them, keep the current
   * transport, count it (`status().validationFailures`, the cache's `CredentialValidationFailures`)
   * and retry with backoff. Worth it for SES SMTP credentials derived from a new IAM access key,
   * which SES may refuse for a while after the key is created; see docs/operations.md, "Validate
   * before switching". @defaultValue false
   */
  validateBeforeSwitch?: ValidateBeforeSwitch;
}

export interface RotatingMailerStatus extends RotatingResourceStats {
  secretName: string;
  versionId: string;
  mode: CredentialMode;
  /** `smtp` or `iam-key` (SMTP password derived from an IAM key pair). */
  credentialKind: SmtpCredentials['kind'];
  /** Transports (pools) built over the mailer's life: 1 + switches. */
  transportsCreated: number;
  transportsClosed: number;
}

type SendCallback = (err: Error | null, info?: SMTPSentMessageInfo) => void;

/**
 * A nodemailer transporter whose SMTP credentials follow a rotating secret (SES SMTP credentials
 * or an IAM key pair with a derived SES SMTP password).
 *
 * - On `rotated`, a new transport is built with the new credentials and new sends go to it; the
 *   old one is closed once its in-flight sends have finished (`RotatingResource` generations), so
 *   a pooled transport's connections are replaced without cutting a delivery short.
 * - A send rejected with 535 / EAUTH (a missed or late invalidation, or AWSCURRENT moved before
 *   the SMTP side) refreshes the secret — one shared refresh for all sends failing together —
 *   and is sent once more on a transport with the refreshed credentials, then with AWSPENDING if
 *   AWSCURRENT is still rejected. A login failure happens before MAIL FROM, so nothing was
 *   delivered and re-sending cannot duplicate a message.
 */
export class RotatingMailer extends EventEmitter {
  private readonly core: RotatingResource<Transporter<SMTPSentMessageInfo>>;
  private readonly log: Logger;
  private readonly counts = { transportsCreated: 0, transportsClosed: 0 };
  private readonly kinds = new WeakMap<Transporter<SMTPSentMessageInfo>, SmtpCredentials['kind']>();

  constructor(
    source: CredentialSource,
    private readonly secretName: string,
    transportOptions: RotatingMailerTransportOptions,
    options: RotatingMailerOptions = {},
  ) {
    super();
    const { sesRegion, ...smtpOptions } = transportOptions;
    if ('auth' in smtpOptions && (smtpOptions as { auth?: unknown }).auth !== undefined) {
      throw new TypeError('createRotatingMailer: do not pass `auth`; the credentials come from the rotating secret');
    }
    if ('url' in smtpOptions && (smtpOptions as { url?: unknown }).url !== undefined) {
      throw new TypeError('createRotatingMailer: pass host/port/secure instead of `url` (a url may carry credentials)');
    }
    this.log = options.logger ?? silentLogger();
    const hints = { sesRegion, host: smtpOptions.host };
    const validateBackoff = validationBackoff(options.validateBeforeSwitch);
    this.core = new RotatingResource<Transporter<SMTPSentMessageInfo>>({
      source,
      name: secretName,
      logger: this.log,
      isAuthError: isSmtpAuthError,
      create: (creds) => {
        const smtp = smtpCredentialsFromSecret(secretName, creds.value, hints);
        const transport = this.buildTransport(smtpOptions, smtp, options.defaults);
        this.kinds.set(transport, smtp.kind);
        return transport;
      },
      drain: async (transport) => {
        transport.close();
        this.counts.transportsClosed += 1;
      },
      // An emergency revoke: nodemailer's pool closes its busy connections too with `force`
      // (their sends fail); a single-connection transport holds none between sends.
      terminate: async (transport) => {
        (transport as unknown as { close(options?: { force?: boolean }): void }).close({ force: true });
        this.counts.transportsClosed += 1;
      },
      ...(validateBackoff
        ? {
            validateBackoff,
            validate: async (transport: Transporter<SMTPSentMessageInfo>) => {
              await transport.verify();
            },
          }
        : {}),
    });
  }

  /** Sends like nodemailer's `sendMail`; a send rejected at login is refreshed and re-sent once. */
  sendMail(mail: SendMailOptions): Promise<SMTPSentMessageInfo>;
  sendMail(mail: SendMailOptions, callback: SendCallback): void;
  sendMail(mail: SendMailOptions, callback?: SendCallback): Promise<SMTPSentMessageInfo> | void {
    const sent = this.send(mail);
    if (!callback) return sent;
    sent.then(
      (info) => callback(null, info),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** Checks connection and login, with the same refresh-on-535 path as `sendMail`. */
  async verify(): Promise<true> {
    await this.core.whenRecovered();
    return this.core.run((transport) => transport.verify());
  }

  /** True when the current transport has capacity for more sends (pooled), as nodemailer's. */
  isIdle(): boolean {
    return this.core.resource.isIdle();
  }

  /** Stops following rotations; every transport is closed once its in-flight sends have ended. */
  close(): Promise<void> {
    return this.core.close();
  }

  /** Version in use, counters; never a credential. */
  status(): RotatingMailerStatus {
    const { versionId, mode } = this.core.credentials;
    return {
      secretName: this.secretName,
      versionId,
      mode,
      credentialKind: this.kinds.get(this.core.resource) ?? 'smtp',
      ...this.core.stats,
      ...this.counts,
    };
  }

  private async send(mail: SendMailOptions): Promise<SMTPSentMessageInfo> {
    // While a recovery is in flight every new login would fail the same way: wait for it.
    await this.core.whenRecovered();
    return this.core.run((transport) => transport.sendMail(mail));
  }

  private buildTransport(smtpOptions: Omit<RotatingMailerTransportOptions, 'sesRegion'>, smtp: SmtpCredentials, defaults: MailDefaults | undefined): Transporter<SMTPSentMessageInfo> {
    const config = { ...smtpOptions, auth: { user: smtp.user, pass: smtp.pass } };
    const transport = (
      smtpOptions.pool ? nodemailer.createTransport({ ...config, pool: true }, defaults) : nodemailer.createTransport(config as SMTPTransportOptions, defaults)
    ) as Transporter<SMTPSentMessageInfo>;
    this.counts.transportsCreated += 1;
    // A transport's 'error' without a listener would crash the process: always listen; pass it
    // on when the app listens, log it (no values) otherwise.
    transport.on('error', (err: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else this.log.warn({ secretName: this.secretName, err: errorSummary(err) }, 'rotating mailer: transport error');
    });
    transport.on('idle', () => {
      if (this.core === undefined || this.core.resource === transport) this.emit('idle');
    });
    return transport;
  }
}

/**
 * A drop-in for `nodemailer.createTransport(transportOptions)` whose credentials come from the
 * rotating secret `name` in `source` (a CredentialCache). See {@link RotatingMailer}.
 */
export function createRotatingMailer(
  source: CredentialSource,
  name: string,
  transportOptions: RotatingMailerTransportOptions,
  options?: RotatingMailerOptions,
): RotatingMailer {
  return new RotatingMailer(source, name, transportOptions, options);
}
