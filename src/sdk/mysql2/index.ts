// sdk/mysql2: the rotating mysql2 pool (peer: mysql2). Imported only by the rotation-relay/mysql2 entry point.
export { createRotatingMysql2Pool, type RotatingMysql2Pool, type RotatingMysql2PoolOptions } from './mysql2-pool.js';
