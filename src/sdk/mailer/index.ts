// sdk/mailer: the rotating nodemailer transport and the SES SMTP password (peer: nodemailer).
export { RotatingMailer, createRotatingMailer, type RotatingMailerOptions, type RotatingMailerStatus, type RotatingMailerTransportOptions } from './mailer-client.js';
export { deriveSesSmtpPassword } from './ses-smtp-password.js';
