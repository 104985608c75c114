import pg from 'pg';
import type { PoolConfig } from 'pg';
import { silentLogger, type Logger } from '../../common/index.js';
import type { CredentialSource } from '../cache/index.js';
import { asPgPool, type RotatingPgPoolAdapter } from './orm-pg-pool.js';
import { createRotatingPgPool, type RotatingPgPool } from './pg-pool.js';

export interface TypeormPgDriverOptions {
  /** @defaultValue a silent logger */
  logger?: Logger;
}

/** What TypeORM's postgres driver uses of the `pg` module: the Pool class and pg's defaults. */
export interface TypeormPgDriver {
  Pool: new (config?: PoolConfig) => RotatingPgPoolAdapter;
  defaults: typeof pg.defaults;
  /** Every rotating pool TypeORM built with this driver (one per DataSource, one per replica). */
  readonly pools: readonly RotatingPgPool[];
}

/** What the secret decides: TypeORM's values for these are ignored. */
const FROM_SECRET = ['user', 'password', 'connectionString'] as const;

/**
 * A `pg` module for TypeORM's `driver` option (type `postgres`), whose `Pool` is the rotating pool
 * over the secret `name` (RDS format) of `source`.
 *
 * TypeORM builds its pool itself (`new driver.Pool(options)`) and would otherwise give it a fixed
 * username and password. With this driver, every query, transaction and QueryRunner of the
 * DataSource goes through the rotating pool, with all of its guarantees: a rotation moves new
 * connections to the new password without failing a query, and a rejected login (28P01/28000) is
 * recovered inside the pool before TypeORM sees it.
 *
 * What TypeORM passes on is kept: `host`, `port` and `database` override the secret's (leave them
 * out to use the secret's), and `poolSize`, `ssl`, `connectTimeoutMS`, `applicationName` and
 * `extra` become the rotating pool's options. `username`, `password` and `url` are ignored (the
 * secret decides; a warning says so once). `source` must be started before
 * `dataSource.initialize()`.
 */
export function typeormPgDriver(source: CredentialSource, name: string, options: TypeormPgDriverOptions = {}): TypeormPgDriver {
  const logger: Logger = options.logger ?? silentLogger();
  const pools: RotatingPgPool[] = [];
  let warned = false;
  // A constructor returning an object: `new driver.Pool(config)` yields the adapter.
  function Pool(config: PoolConfig = {}): RotatingPgPoolAdapter {
    const poolOptions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      if (value === undefined) continue;
      if ((FROM_SECRET as readonly string[]).includes(key)) {
        if (!warned) logger.warn({ secretName: name, ignored: FROM_SECRET.filter((k) => config[k] !== undefined) }, 'typeorm pg driver: username, password and url come from the secret; the DataSource values are ignored');
        warned = true;
        continue;
      }
      poolOptions[key] = value;
    }
    const pool = createRotatingPgPool(source, name, { ...poolOptions, logger });
    pools.push(pool);
    return asPgPool(pool);
  }
  return { Pool: Pool as unknown as TypeormPgDriver['Pool'], defaults: pg.defaults, pools };
}
