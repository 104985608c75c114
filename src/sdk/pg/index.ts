// sdk/pg: the rotating node-postgres pool (peer: pg). Imported only by the rotation-relay/pg entry point.
export { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions, type RotatingPgQuery } from './pg-pool.js';
export { asPgPool, RotatingPgPoolAdapter } from './orm-pg-pool.js';
export { PgLoginCredentials, type PgLogin, type PgLoginCredentialsOptions, type PgLoginStats } from './orm-pg-login.js';
export { sequelizeCredentials, type SequelizeConnectConfig, type SequelizeCredentials, type SequelizeCredentialsOptions, type SequelizeLoginRetry } from './orm-sequelize.js';
export { typeormPgDriver, type TypeormPgDriver, type TypeormPgDriverOptions } from './orm-typeorm.js';
