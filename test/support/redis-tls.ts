import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withFreePort } from './free-port.js';
import { redisAnswersPingOverTls } from './redis-probe.js';
import { requireBinary } from './require-binary.js';
import { runCommand } from './run-command.js';
import { spawnDaemon, type Daemon } from './spawn-daemon.js';
import { createTempDir } from './temp-dir.js';

/** A redis-server that only speaks TLS, with a throwaway CA, for one test file. */
export interface RedisTlsHandle {
  host: '127.0.0.1';
  port: number;
  /** `rediss://127.0.0.1:<port>` */
  url: string;
  /** PEM file of the CA that signed the server certificate (ROTATION_RELAY_REDIS_TLS_CA_FILE). */
  caFile: string;
  /** Stops the server and removes the certificates. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/**
 * Generates a self-signed CA and a server certificate for 127.0.0.1 / localhost with `openssl`
 * (EC P-256, valid one day) in a temp dir, then starts
 * `redis-server --port 0 --tls-port P --tls-cert-file … --tls-key-file … --tls-ca-cert-file … --tls-auth-clients no`:
 * no plaintext port at all, so a client that does not speak TLS cannot pass by accident.
 * Readiness is a TLS handshake verified against the CA, then PING.
 */
export async function startRedisTls(): Promise<RedisTlsHandle> {
  const openssl = requireBinary('openssl', 'apt-get install openssl');
  const redisServer = requireBinary('redis-server', 'apt-get install redis-server');
  const dir = await createTempDir('rr-redis-tls-');
  try {
    const file = (name: string) => join(dir.path, name);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await runCommand(openssl, ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=rotation-relay test CA']);
    await runCommand(openssl, ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
    await writeFile(
      file('server.ext'),
      ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE', 'keyUsage=digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', ''].join('\n'),
    );
    await runCommand(openssl, [
      'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file('server.crt'), '-days', '1', '-extfile', file('server.ext'),
    ]);
    const ca = readFileSync(file('ca.crt'));

    const [daemon, port] = await withFreePort(async (candidate): Promise<[Daemon, number]> => {
      const server = spawnDaemon({
        name: `redis-server (TLS) 127.0.0.1:${candidate}`,
        command: redisServer,
        args: [
          '--port', '0',
          '--tls-port', String(candidate),
          '--bind', '127.0.0.1',
          '--tls-cert-file', file('server.crt'),
          '--tls-key-file', file('server.key'),
          '--tls-ca-cert-file', file('ca.crt'),
          '--tls-auth-clients', 'no',
          '--save', '',
          '--appendonly', 'no',
          '--dir', dir.path,
          '--daemonize', 'no',
          '--logfile', '',
        ],
        cwd: dir.path,
        logFile: file('redis.log'),
      });
      try {
        await server.waitReady(() => redisAnswersPingOverTls(candidate, ca), READY_TIMEOUT_MS);
      } catch (error) {
        await server.stop({ signal: 'SIGKILL' });
        throw error;
      }
      return [server, candidate];
    });

    let stopped = false;
    return {
      host: '127.0.0.1',
      port,
      url: `rediss://127.0.0.1:${port}`,
      caFile: file('ca.crt'),
      async stop() {
        if (stopped) return;
        stopped = true;
        await daemon.stop();
        await dir.remove();
      },
    };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

