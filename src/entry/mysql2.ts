/**
 * `rotation-relay/mysql2`: a mysql2 pool (MySQL, Aurora MySQL, MariaDB, RDS Proxy) that follows a
 * secret of a CredentialCache. Needs `mysql2` installed next to rotation-relay: an optional peer
 * dependency, so an app without MySQL does not install it (mysql2 ships its own types). Its
 * errors are exported by the root, `rotation-relay`.
 */
export { createRotatingMysql2Pool, type RotatingMysql2Pool, type RotatingMysql2PoolOptions } from '../sdk/mysql2/index.js';
export { isMysqlAuthError } from '../sdk/rotating/index.js';
