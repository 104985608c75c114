import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** User name → password; several entries model an overlap (old and new credentials both valid). */
export type SmtpUsers = Map<string, string>;

export interface StartSmtpServerOptions {
  /**
   * Who may log in. A Map is read live on every AUTH (mutate it, or call `setUsers`); a function
   * is called on every AUTH, so a test can return whatever table is current.
   */
  users: SmtpUsers | (() => SmtpUsers);
  /**
   * Called with each message before the server answers DATA; the reply waits for the returned
   * promise, so a test can hold sends in flight (e.g. across a rotation). @defaultValue none
   */
  beforeAccept?: (message: ReceivedSmtpMessage) => void | Promise<void>;
}

export interface ReceivedSmtpMessage {
  /** Session id of the connection it came through. */
  sessionId: string;
  /** The user name the connection authenticated as. */
  user: string;
  mailFrom: string | undefined;
  rcptTo: string[];
  size: number;
  /** Raw message text (small test messages only). */
  raw: string;
}

export interface SmtpConnectionInfo {
  sessionId: string;
  /** Authenticated user name, if the connection logged in. */
  user?: string;
  open: boolean;
}

/** A private SMTP server for one test file. */
export interface SmtpServerHandle {
  host: '127.0.0.1';
  port: number;
  /** Accepted messages, in order. */
  readonly messages: ReceivedSmtpMessage[];
  /** Failed AUTH attempts (answered 535), and successful ones. */
  readonly counts: { authFailures: number; authSuccesses: number; connectionsOpened: number; connectionsClosed: number };
  /** Every connection seen, by session id (open ones have `open: true`). */
  readonly connections: Map<string, SmtpConnectionInfo>;
  /** Connections currently open, optionally only those authenticated as `user`. */
  openConnections(user?: string): number;
  /** Replaces the user table (when started with a Map, or to switch from a function to a Map). */
  setUsers(users: SmtpUsers): void;
  /** Closes the listener and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts an in-process SMTP server (the `smtp-server` package) on 127.0.0.1 and a free port.
 *
 * Why: the rotating mailer must be tested against a real SMTP dialogue — AUTH PLAIN/LOGIN, 535 on
 * bad credentials, pooled connections — and the credentials must change mid-test, which a
 * container (Mailpit) cannot do. AUTH is mandatory (`authOptional: false`); no TLS (STARTTLS is
 * disabled and plain-text AUTH allowed) so tests need no certificates. `onAuth` reads the
 * *current* user table on every attempt, so a test rotates credentials by replacing the table
 * (only the new pair works) or by holding both pairs for a while (an overlap).
 */
export async function startSmtpServer(options: StartSmtpServerOptions): Promise<SmtpServerHandle> {
  let users = options.users;
  const currentUsers = (): SmtpUsers => (typeof users === 'function' ? users() : users);
  const messages: ReceivedSmtpMessage[] = [];
  const counts = { authFailures: 0, authSuccesses: 0, connectionsOpened: 0, connectionsClosed: 0 };
  const connections = new Map<string, SmtpConnectionInfo>();

  const server = new SMTPServer({
    secure: false,
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    // No reverse DNS of 127.0.0.1 per connection: it adds up to ~1.5 s to each login on some hosts.
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1_000,
    // A pool under load opens connections in bursts; no artificial limit.
    maxClients: 1_000,
    onConnect(session, callback) {
      counts.connectionsOpened += 1;
      connections.set(session.id, { sessionId: session.id, open: true });
      callback();
    },
    onClose(session) {
      const info = connections.get(session.id);
      if (info?.open) {
        info.open = false;
        counts.connectionsClosed += 1;
      }
    },
    onAuth(auth, session, callback) {
      const expected = auth.username === undefined ? undefined : currentUsers().get(auth.username);
      if (expected === undefined || auth.password === undefined || auth.password !== expected) {
        counts.authFailures += 1;
        // Same wording as SES: "535 Authentication Credentials Invalid".
        const err = Object.assign(new Error('Authentication Credentials Invalid'), { responseCode: 535 });
        callback(err);
        return;
      }
      counts.authSuccesses += 1;
      const info = connections.get(session.id);
      if (info) info.user = auth.username;
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const message = toMessage(session, raw);
        Promise.resolve()
          .then(() => options.beforeAccept?.(message))
          .then(
            () => {
              messages.push(message);
              callback(null, `Ok: queued as ${messages.length}`);
            },
            (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
          );
      });
    },
  });
  server.on('error', () => {
    // Client-side socket errors (a transport closed mid-dialogue) are part of these tests.
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      const address = server.server.address();
      if (address === null || typeof address === 'string') reject(new Error('smtp-server: unexpected listen address'));
      else resolve(address.port);
    });
  });

  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    messages,
    counts,
    connections,
    openConnections(user?: string) {
      let n = 0;
      for (const info of connections.values()) if (info.open && (user === undefined || info.user === user)) n += 1;
      return n;
    },
    setUsers(next: SmtpUsers) {
      users = next;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of server.connections as Set<{ close(): void }>) connection.close();
      });
      return stopped;
    },
  };
}

function toMessage(session: SMTPServerSession, raw: string): ReceivedSmtpMessage {
  const { mailFrom, rcptTo } = session.envelope;
  return {
    sessionId: session.id,
    user: String(session.user ?? ''),
    mailFrom: mailFrom === false ? undefined : mailFrom.address,
    rcptTo: rcptTo.map((r) => r.address),
    size: Buffer.byteLength(raw),
    raw,
  };
}
