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
} from '../sdk/mailer/index.js';
export { deriveSesSmtpPassword } from '../sdk/mailer/index.js';
export { isSmtpAuthError } from '../sdk/rotating/index.js';
