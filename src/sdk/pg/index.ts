// sdk/pg: the rotating node-postgres pool (peer: pg). Imported only by the rotation-relay/pg entry point.
export { createRotatingPgPool, type RotatingPgPool, type RotatingPgPoolOptions, type RotatingPgQuery } from './pg-pool.js';
