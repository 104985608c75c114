import { join } from 'node:path';
import { withFreePort } from './free-port.js';
import { requireBinary } from './require-binary.js';
import { spawnDaemon, type Daemon } from './spawn-daemon.js';
import { createTempDir, type TempDir } from './temp-dir.js';

/*
 * moto_server (moto 5.2) behaviour checked by hand through AWS SDK v3 (pinned in
 * test/integration/support-smoke.test.ts where it matters to us):
 * - Secrets Manager: CreateSecret, PutSecretValue (incl. ClientRequestToken + VersionStages
 *   ['AWSPENDING']), DescribeSecret (VersionIdsToStages), GetSecretValue by VersionStage or
 *   VersionId, and UpdateSecretVersionStage (MoveToVersionId/RemoveFromVersionId; moves
 *   AWSPREVIOUS automatically; refuses a move without RemoveFromVersionId, like AWS) all work.
 * - QUIRK: moto keeps an internal "default version" pointer that UpdateSecretVersionStage does
 *   not update. After moving AWSCURRENT with UpdateSecretVersionStage:
 *     · GetSecretValue WITHOUT VersionStage/VersionId returns the OLD (now AWSPREVIOUS) value;
 *     · a later plain PutSecretValue (no VersionStages) leaves TWO versions labelled AWSCURRENT,
 *       and GetSecretValue(VersionStage: 'AWSCURRENT') then returns the older one.
 *   So: always pass VersionStage or VersionId, and in a test either rotate only with the
 *   AWSPENDING + UpdateSecretVersionStage sequence (consistent, repeatable) or only with plain
 *   PutSecretValue, not both on one secret.
 * - Versions that lose every label stay listed in VersionIdsToStages with [] (AWS omits unlabelled versions).
 *   After finishing a rotation, AWSPENDING stays on the new current version until removed.
 * - SQS: CreateQueue with a RedrivePolicy ({ deadLetterTargetArn, maxReceiveCount }) is stored
 *   and enforced: with maxReceiveCount 2, receives 1–2 return the message and the 3rd moves it
 *   to the DLQ. Queue URLs are http://127.0.0.1:<port>/123456789012/<name>.
 * - Any credentials are accepted; the account id is 123456789012. State is in memory and shared
 *   by every client of this server: `reset()` between tests that must not see each other's data.
 */

export interface MotoHandle {
  /** `http://127.0.0.1:<port>`; pass as `endpoint` to every AWS SDK v3 client. */
  endpoint: string;
  region: 'us-east-1';
  credentials: { accessKeyId: 'testing'; secretAccessKey: 'testing' };
  /** Forgets every resource in the emulator (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** The part of an AWS SDK v3 client config that points it at moto. */
export interface MotoClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Starts a private `moto_server` (Secrets Manager, SQS, EventBridge emulator) on 127.0.0.1 and a
 * free port, and waits until it answers HTTP. It is a Python process and takes 1–3 s to start,
 * so start one per test file in `beforeAll` and `reset()` between tests rather than restarting.
 */
export async function startMoto(): Promise<MotoHandle> {
  const binary = requireBinary('moto_server', 'pip install "moto[server]"');
  const dir = await createTempDir('rr-moto-');
  let daemon: Daemon;
  let port: number;
  try {
    [daemon, port] = await withFreePort((candidate) => launch(binary, dir, candidate));
  } catch (err) {
    await dir.remove();
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped = false;
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status} ${await res.text()}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await daemon.stop();
      await dir.remove();
    },
  };
}

/** `{ endpoint, region, credentials }` for `new SecretsManagerClient(...)`, `new SQSClient(...)`, … */
export function motoClientConfig(handle: MotoHandle): MotoClientConfig {
  return { endpoint: handle.endpoint, region: handle.region, credentials: { ...handle.credentials } };
}

async function launch(binary: string, dir: TempDir, port: number): Promise<[Daemon, number]> {
  const daemon = spawnDaemon({
    name: `moto_server 127.0.0.1:${port}`,
    command: binary,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    cwd: dir.path,
    logFile: join(dir.path, `moto-${port}.log`),
    // Unbuffered so a startup failure is in the log we quote.
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  try {
    await daemon.waitReady(() => answersHttp(port), READY_TIMEOUT_MS);
  } catch (err) {
    await daemon.stop({ signal: 'SIGKILL' });
    throw err;
  }
  return [daemon, port];
}

/** Any HTTP response from the moto dashboard API means the server is serving. */
async function answersHttp(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
  await res.arrayBuffer();
  return res.status < 500;
}
