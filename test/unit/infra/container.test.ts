import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allSettings } from '../../../src/config/index.js';

/*
 * The Dockerfile and docker-compose.yml cannot be run here (no Docker engine on our machines),
 * so they are checked statically here; a real Compose implementation validates the file in
 * test/integration/infra/compose-config.test.ts.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => readFileSync(new URL(file, `file://${ROOT}`), 'utf8');

type Service = {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: unknown[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: unknown;
  volumes?: unknown[];
};

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

function environmentNames(service: Service): string[] {
  const env = service.environment ?? {};
  return Array.isArray(env) ? env.map((entry) => entry.split('=')[0] ?? '') : Object.keys(env);
}

function dependencies(service: Service): Array<[string, string | undefined]> {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps.map((name) => [name, undefined]) : Object.entries(deps).map(([name, d]) => [name, d.condition]);
}

describe('docker-compose.yml', () => {
  it('has LocalStack, Valkey, PostgreSQL, Mailpit, init, the worker and an example app', () => {
    expect(Object.keys(services).sort()).toEqual(['app', 'init', 'localstack', 'mailpit', 'postgres', 'valkey', 'worker']);
    expect(String(services['localstack']?.image)).toMatch(/^localstack\/localstack:/);
    expect(String(services['valkey']?.image)).toMatch(/^valkey\/valkey:/);
    expect(String(services['postgres']?.image)).toMatch(/^postgres:/);
    expect(String(services['mailpit']?.image)).toMatch(/^axllent\/mailpit:/);
  });

  it('gives every service an image or a build, and images a pinned tag', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image ?? service.build, name).toBeDefined();
      if (service.image && !service.build) expect(service.image, name).toMatch(/:[^:]+$/);
      if (service.image && !service.build) expect(service.image, name).not.toMatch(/:latest$/);
    }
  });

  it('starts LocalStack with SQS, Secrets Manager and EventBridge', () => {
    const env = services['localstack']?.environment as Record<string, string>;
    expect(env['SERVICES']?.split(',').sort()).toEqual(['events', 'secretsmanager', 'sqs']);
  });

  it('depends only on services that exist, waiting for health only where a healthcheck is defined', () => {
    const conditions = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of dependencies(service)) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        if (condition !== undefined) expect(conditions.has(condition), `${name} → ${dependency}: ${condition}`).toBe(true);
        if (condition === 'service_healthy') expect(services[dependency]?.healthcheck, `${dependency} has a healthcheck`).toBeDefined();
      }
    }
  });

  it('writes ports as strings (YAML would read 56:56-style numbers in base 60)', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        expect(typeof port, `${name} ${String(port)}`).toBe('string');
        expect(port, name).toMatch(/^(\d{1,3}(\.\d{1,3}){3}:)?\d+(:\d+)?(\/(tcp|udp))?$/);
      }
    }
  });

  it('builds the worker, init and app from the Dockerfile', () => {
    for (const name of ['worker', 'init', 'app']) {
      const build = services[name]?.build;
      expect(typeof build === 'string' ? build : build?.context, name).toBe('.');
      if (typeof build === 'object') expect(existsSync(new URL(build.dockerfile ?? 'Dockerfile', `file://${ROOT}`))).toBe(true);
    }
    expect(services['worker']?.command).toBeUndefined(); // the image's CMD: rotation-relay worker
    expect(services['app']?.command).toEqual(['node', 'examples/app.mjs']);
  });

  it("gives the worker only variables the worker reads (src/config settings) or the AWS SDK's", () => {
    // Prepare
    const known = new Set(allSettings().map(({ setting }) => setting.name));

    // Act
    const names = environmentNames(services['worker'] as Service);

    // Assess
    expect(names.filter((name) => !known.has(name) && !name.startsWith('AWS_'))).toEqual([]);
    for (const required of ['ROTATION_RELAY_QUEUE_URL', 'ROTATION_RELAY_REDIS_URL', 'AWS_REGION', 'AWS_ENDPOINT_URL']) expect(names).toContain(required);
  });

  it('points the worker at the queue init creates and the Valkey service', () => {
    const env = services['worker']?.environment as Record<string, string>;
    expect(env['ROTATION_RELAY_QUEUE_URL']).toBe('http://localstack:4566/000000000000/rotation-relay');
    expect(env['ROTATION_RELAY_REDIS_URL']).toBe('redis://valkey:6379');
    expect(env['AWS_ENDPOINT_URL']).toBe('http://localstack:4566');
  });

  it('runs init before the worker: it applies the infra with the CLI and creates the demo secrets', () => {
    expect(dependencies(services['worker'] as Service)).toContainEqual(['init', 'service_completed_successfully']);
    const command = services['init']?.command as string[];
    expect(command).toEqual(['node', 'infra/compose/init.mjs']);
    const script = read('infra/compose/init.mjs');
    expect(script).toMatch(/'infra', 'apply'/);
    expect(script).toMatch(/'infra', 'verify'/);
    expect(script).toMatch(/CreateSecretCommand/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile.split('\n').filter((line) => line.trim() && !line.trimStart().startsWith('#'));
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? '';

  it('is multi-stage on a current LTS Node image', () => {
    const froms = lines.filter((line) => line.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:24-(alpine|bookworm-slim) AS \w+$/);
  });

  it('builds with npm ci in the first stage and keeps production dependencies only in the last', () => {
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toMatch(/RUN npm run build/);
    expect(final).toMatch(/RUN npm ci --omit=dev\b/);
    // The worker needs ioredis, the compose example app (run from this image) pg and nodemailer too.
    for (const peer of ['ioredis', 'pg', 'nodemailer']) expect(final).toContain(`"${peer}@$(node -p "require('./package.json').peerDependencies.${peer}")"`);
    expect(final).toMatch(/COPY --from=\w+ \/app\/dist \.\/dist/);
    expect(final).not.toMatch(/COPY (src|test)\b/);
  });

  it('runs as a non-root user, the worker by default, with a HEALTHCHECK on /healthz', () => {
    expect(final).toMatch(/^USER (node|\d{3,})$/m);
    expect(final).toMatch(/^CMD \["node", ?"dist\/ops\/cli\/main\.js", ?"worker"\]$/m);
    expect(final).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(final).not.toMatch(/HEALTHCHECK[\s\S]*curl/);
  });

  it('ships infra/ (the pattern and samples the infra commands read)', () => {
    expect(final).toMatch(/^COPY infra \.\/infra$/m);
  });

  it('keeps local state and credentials out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', '.git', '.env', '.aws']) expect(ignored).toContain(entry);
    for (const needed of ['src', 'infra', 'package.json', 'package-lock.json', 'tsconfig.json']) expect(ignored).not.toContain(needed);
  });
});
