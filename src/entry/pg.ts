/**
 * `rotation-relay/pg`: a pg pool that follows a secret of a CredentialCache. Needs `pg` (and, in
 * TypeScript, `@types/pg`) installed next to rotation-relay: optional peer dependencies, so an app
 * without PostgreSQL installs neither. Its errors are exported by the root, `rotation-relay`.
 */
export { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions, type RotatingPgQuery } from '../sdk/pg/index.js';
export { isPgAuthError } from '../sdk/rotating/index.js';
