import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliProcess, runTsProcess, type CliProcess } from '../../support/cli-process.js';
import { ensurePythonModules } from '../../support/python-env.js';
import { requireBinary } from '../../support/require-binary.js';

const DEMO = fileURLToPath(new URL('../../../scripts/demo/main.ts', import.meta.url));

/**
 * `npm run demo` as a user runs it: its own process, real services, the real worker and three
 * app processes. Each run gets its own TMPDIR so that whatever it started can be found afterwards
 * (every server's data directory, and PostgreSQL's command line, are under it).
 */
describe('npm run demo', () => {
  const tmpDirs: string[] = [];
  const started: CliProcess[] = [];

  afterAll(() => {
    for (const p of started) p.signal('SIGKILL');
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  });

  function startDemo(args: string[], env: Record<string, string> = {}): { demo: CliProcess; tmp: string } {
    const tmp = mkdtempSync(join(tmpdir(), 'rr-demo-test-'));
    chmodSync(tmp, 0o755); // PostgreSQL runs as the postgres user when we are root and must reach its data dir
    tmpDirs.push(tmp);
    const demo = runTsProcess(DEMO, args, { TMPDIR: tmp, ...env }, 'demo');
    started.push(demo);
    return { demo, tmp };
  }

  /** Every process the demo said it started, and anything running from its TMPDIR, is gone. */
  function expectNothingLeft(demo: CliProcess, tmp: string): void {
    const out = demo.stdout().join('\n');
    const pgrep = requireBinary('pgrep', 'apt-get install procps');
    const running = (pattern: string): string[] => {
      try {
        return execFileSync(pgrep, ['-af', pattern], { encoding: 'utf8' }).split('\n').filter((line) => line && !line.includes('pgrep'));
      } catch {
        return []; // pgrep exits 1 when nothing matches
      }
    };
    const port = (re: RegExp): string => {
      const found = re.exec(out)?.[1];
      expect(found, `${re} in the demo's output`).toBeDefined();
      return found as string;
    };
    const moto = port(/moto_server http:\/\/127\.0\.0\.1:(\d+)/);
    const bus = port(/invalidations on redis:\/\/127\.0\.0\.1:(\d+)/);
    const appRedis = port(/Redis 127\.0\.0\.1:(\d+)/);
    expect(running(`moto_server -H 127.0.0.1 -p ${moto}`)).toEqual([]);
    expect(running(`redis-server 127.0.0.1:${bus}`)).toEqual([]);
    expect(running(`redis-server 127.0.0.1:${appRedis}`)).toEqual([]);
    expect(running(tmp)).toEqual([]); // postgres -D <tmp>/rr-pg-…/data
    const pids = [...out.matchAll(/\(pids? ([\d, ]+)\)/g)].flatMap((m) => (m[1] ?? '').split(', ').map(Number));
    expect(pids.length, 'the worker and the app instances').toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(alive(pid), `process ${pid} the demo started`).toBe(false);
    expect(processesIn(tmp)).toEqual([]);
    // The launchers' temp dirs are gone (tsx's compile cache may stay; it is not ours).
    expect(readdirSync(tmp).filter((name) => name.startsWith('rr-'))).toEqual([]);
  }

  it('--rotations 3 exits 0 with a summary line showing zero failed operations, and leaves no process behind', async () => {
    const { demo, tmp } = startDemo(['--rotations', '3', '--interval-ms', '200']);

    const code = await demo.exited;

    const out = demo.stdout();
    expect(code, `exit code; stderr: ${demo.stderr().slice(-20).join('\n')}\nstdout: ${out.slice(-20).join('\n')}`).toBe(0);
    // Not a terminal: one line per rotation, each naming every instance's latency.
    const rotations = out.filter((line) => /^\[\d+:\d\d\] rotation \d+\/9: /.test(line));
    expect(rotations).toHaveLength(9);
    for (const line of rotations) expect(line).toMatch(/app-1 .+, app-2 .+, app-3 .+ · operations [\d,]+ ok \/ 0 failed$/);
    const summary = out.find((line) => line.startsWith('demo summary:'));
    expect(summary).toMatch(/^demo summary: 9 rotations \(db 3, cache 3, mail 3\) · 27 propagations, /);
    expect(summary).toMatch(/ · operations [\d,]+ ok \/ 0 failed \(pg [\d,]+\/0, redis [\d,]+\/0, smtp [\d,]+\/0\) · /);
    expect(summary).toMatch(/ · OK$/);
    expect(summary).not.toMatch(/operations 0 ok/);
    expectNothingLeft(demo, tmp);
  }, 120_000);

  it('stops everything it started on SIGINT (Ctrl-C), prints the summary and exits 0', async () => {
    // One app instance is enough here: what is under test is the stop, not the fleet.
    const { demo, tmp } = startDemo(['--instances', '1', '--interval-ms', '200']);
    await demo.waitForLine('stdout', (line) => /^\[\d+:\d\d\] rotation 1: /.test(line), 'the first rotation', 60_000);

    demo.signal('SIGINT');
    const code = await demo.exited;

    expect(code, demo.stderr().slice(-20).join('\n')).toBe(0);
    expect(demo.stdout().find((line) => line.startsWith('demo summary:'))).toMatch(/ok \/ 0 failed .* · OK$/);
    expectNothingLeft(demo, tmp);
  }, 120_000);

  it('--django runs a Django instance beside the Node one: in every rotation line, in `rotation-relay status`, 0 failed operations', async () => {
    ensurePythonModules(['django', 'psycopg2', 'redis', 'django_redis', 'boto3']);
    const { demo, tmp } = startDemo(['--django', '--instances', '1', '--interval-ms', '200']);
    await demo.waitForLine('stdout', (line) => /^\[\d+:\d\d\] rotation 1: /.test(line), 'the first rotation', 90_000);
    const bus = /invalidations on (redis:\/\/127\.0\.0\.1:\d+)/.exec(demo.stdout().join('\n'))?.[1] ?? '';
    expect(demo.stdout().join('\n')).toContain(`ROTATION_RELAY_REDIS_URL=${bus} node dist/ops/cli/main.js status`);

    // What the demo tells operators to run, while both instances are live.
    const text = runCliProcess(['status'], { ROTATION_RELAY_REDIS_URL: bus });
    const json = runCliProcess(['status', '--json'], { ROTATION_RELAY_REDIS_URL: bus });
    const [textCode, jsonCode] = await Promise.all([text.exited, json.exited]);
    demo.signal('SIGINT');
    const code = await demo.exited;

    expect([textCode, jsonCode], [...text.stderr(), ...json.stderr()].join('\n')).toEqual([0, 0]);
    expect(text.stdout()[0]).toMatch(/^2 live instances, /);
    expect(text.stdout().join('\n')).toMatch(/^by SDK: rotation-relay\/\S+ × 1, rotation-relay-python\/\S+ × 1$|^by SDK: rotation-relay-python\/\S+ × 1, rotation-relay\/\S+ × 1$/m);
    const live = (JSON.parse(json.stdout().join('\n')) as { instances: { live: Array<{ sdk?: string; runtime?: string }> } }).instances.live;
    expect(live.map((i) => i.runtime?.split('/')[0]).sort()).toEqual(['node', 'python']);
    expect(code, demo.stderr().slice(-20).join('\n')).toBe(0);
    const rotations = demo.stdout().filter((line) => /^\[\d+:\d\d\] rotation \d+: /.test(line));
    expect(rotations.length).toBeGreaterThanOrEqual(1);
    for (const line of rotations) expect(line).toMatch(/: app-1 .+, django-1 (\d+ ms|by login|reconcile|poll) · operations [\d,]+ ok \/ 0 failed$/);
    expect(demo.stdout().find((line) => line.startsWith('demo summary:'))).toMatch(/ok \/ 0 failed \(pg [\d,]+\/0, redis [\d,]+\/0, smtp [\d,]+\/0\) · .* · OK$/);
    expectNothingLeft(demo, tmp);
  }, 180_000);

  it('names each missing program with what to install, and docker compose as the alternative', async () => {
    // An empty PATH: no redis-server, no moto_server (PostgreSQL may still be found under
    // /usr/lib/postgresql). Node itself is started by its absolute path.
    const empty = mkdtempSync(join(tmpdir(), 'rr-demo-path-'));
    tmpDirs.push(empty);
    const { demo } = startDemo(['--rotations', '1'], { PATH: empty });

    const code = await demo.exited;

    expect(code).toBe(2);
    const err = demo.stderr().join('\n');
    expect(err).toMatch(/redis-server \(on PATH\) +install: apt-get install redis-server/);
    expect(err).toMatch(/moto_server \(on PATH\) +install: pip install "moto\[server\]"/);
    expect(err).toContain('docker compose up --build');
    expect(demo.stdout()).toEqual([]);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose working directory or command line is under `dir` (Linux /proc). */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cwd.startsWith(dir) || cmdline.includes(dir)) found.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
