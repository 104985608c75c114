/**
 * `rotation-relay/mailer`: a nodemailer SMTP transport that follows a secret of a
 * CredentialCache (SES SMTP credentials included). Needs `nodemailer` (and, in TypeScript,
 * `@types/nodemailer`) installed next to rotation-relay: optional peer dependencies. Its errors
 * are exported by the root, `rotation-relay`.
 */
export {
  createRotatingMailer,
  RotatingMailer,
  type RotatingMailerTransportOptions,
  type RotatingMailerOptions,
  type RotatingMailerStatus,
} from '../clients/mailer-client.js';
export { deriveSesSmtpPassword } from '../clients/ses-smtp-password.js';
export { isSmtpAuthError } from '../clients/auth-errors.js';
