import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * Resolves `true` when a Redis server on 127.0.0.1:`port` answers an inline `PING` with `+PONG`,
 * or with `-NOAUTH` (it is up and only wants credentials); `false` on any other reply or error.
 *
 * Why a raw socket rather than ioredis or `redis-cli`: it is a readiness probe that runs every
 * 20 ms; spawning redis-cli each time is slow, and ioredis's reconnect machinery and error events
 * are noise here. `-LOADING` (still loading a dataset) counts as not ready.
 */
export function redisAnswersPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return probe(connect({ host: '127.0.0.1', port }), 'connect', /^(\+PONG|-NOAUTH)/, timeoutMs);
}

/** The same over TLS: a verified handshake (CA + host name 127.0.0.1), then `+PONG`. */
export function redisAnswersPingOverTls(port: number, ca: Buffer, timeoutMs = 1_000): Promise<boolean> {
  return probe(tlsConnect({ host: '127.0.0.1', port, ca }), 'secureConnect', /^\+PONG/, timeoutMs);
}

function probe(socket: Socket, readyEvent: 'connect' | 'secureConnect', accept: RegExp, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let reply = '';
    const done = (ready: boolean): void => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once(readyEvent, () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(accept.test(reply));
    });
    socket.once('end', () => done(false));
  });
}
