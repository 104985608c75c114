/**
 * The rotation soak's peer for PostgreSQL: what users would pick instead of rotation-relay, the
 * AWS Advanced NodeJS Wrapper (`aws-advanced-nodejs-wrapper`) with only its Secrets Manager plugin.
 *
 * The plugin reads the secret (without a stage) on a process's first connection and caches it
 * for the process; on a "password authentication failed" it reads it again once and retries the
 * login once. The wrapper is a client, not a pool: to load it like the pg pools of the other modes
 * (a connection serves `queriesPerConnection` queries, then a new one is opened) each connection
 * is its own `AwsPGClient`, replaced after that many queries or after any failure.
 *
 * The plugin builds its own Secrets Manager client from `secretEndpoint`/`secretRegion` and the
 * default credential chain: the process needs AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in its
 * environment (soak.ts passes moto's).
 */
import { AwsPGClient } from 'aws-advanced-nodejs-wrapper/pg';

export interface PeerPgOptions {
  host: string;
  port: number;
  database: string;
  secretId: string;
  region: string;
  /** Secrets Manager endpoint (the soak's aws-proxy-double in front of moto_server, adding the stage AWS implies). */
  endpoint: string;
  queriesPerConnection: number;
}

export interface PeerPg {
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

interface Connection {
  client: AwsPGClient;
  connected: Promise<unknown>;
  uses: number;
}

export function createPeerPg(options: PeerPgOptions): PeerPg {
  const config = {
    host: options.host,
    port: options.port,
    database: options.database,
    plugins: 'secretsManager',
    secretId: options.secretId,
    secretRegion: options.region,
    secretEndpoint: options.endpoint,
  };
  const ending = new Set<Promise<unknown>>();
  let current: Connection | undefined;

  const open = (): Connection => {
    const client = new AwsPGClient(config);
    // A server-side disconnect must fail a query, not crash the app on an unhandled 'error' event.
    client.on('error', () => undefined);
    const connected = client.connect();
    connected.catch(() => undefined); // observed by query(); this only keeps it from being unhandled
    return { client, connected, uses: 0 };
  };
  const retire = (connection: Connection | undefined): void => {
    if (!connection) return;
    if (current === connection) current = undefined;
    const ended = connection.connected.then(() => connection.client.end()).catch(() => undefined);
    ending.add(ended);
    void ended.finally(() => ending.delete(ended));
  };

  return {
    async query(sql) {
      if (!current || current.uses >= options.queriesPerConnection) {
        retire(current);
        current = open();
      }
      const connection = current;
      connection.uses += 1;
      try {
        await connection.connected;
        return await connection.client.query(sql);
      } catch (error) {
        retire(connection);
        throw error;
      }
    },
    async close() {
      retire(current);
      await Promise.allSettled([...ending]);
    },
  };
}
