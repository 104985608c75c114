/**
 * `rotation-relay/pg`: a pg pool that follows a secret of a CredentialCache. Needs `pg` (and, in
 * TypeScript, `@types/pg`) installed next to rotation-relay: optional peer dependencies, so an app
 * without PostgreSQL installs neither. Its errors are exported by the root, `rotation-relay`.
 */
export { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions, type RotatingPgQuery } from '../sdk/pg/index.js';
export { isPgAuthError } from '../sdk/rotating/index.js';
// The ORMs and query builders over PostgreSQL (docs/use-with-orms.md).
export {
  asPgPool,
  RotatingPgPoolAdapter,
  PgLoginCredentials,
  type PgLogin,
  type PgLoginCredentialsOptions,
  type PgLoginStats,
  sequelizeCredentials,
  type SequelizeConnectConfig,
  type SequelizeCredentials,
  type SequelizeCredentialsOptions,
  type SequelizeLoginRetry,
  typeormPgDriver,
  type TypeormPgDriver,
  type TypeormPgDriverOptions,
} from '../sdk/pg/index.js';
