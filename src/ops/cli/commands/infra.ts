import { parseArgs } from 'node:util';
import { loadAwsConfig } from '../../../config/index.js';
import {
  applyPlan,
  buildDesiredState,
  computePlan,
  createInfraClients,
  describeScope,
  destroyClients,
  EMULATOR_UNREPORTED_ATTRIBUTES,
  destroyStack,
  formatPlan,
  INFRA_DEFAULTS,
  loadBasePattern,
  observeState,
  parseScope,
  planJson,
  resolveAccount,
  ScopeError,
  STACK_NAME_RE,
  verifyRule,
  VERIFY_SOURCE,
  type AccountContext,
  type InfraClients,
  type InfraOptions,
  type Plan,
  type SecretScope,
  type VerifyMethod,
  type VerifyReport,
} from '../../infra/index.js';
import { EXIT, UsageError } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatTable } from '../table.js';

export const infraHelp = `Usage: rotation-relay infra <plan|apply|destroy|verify> [options]

Provision the AWS side without CloudFormation: the SQS queue NAME (SSE on, redrive to NAME-dlq),
NAME-events-dlq for events EventBridge cannot deliver, and the rule NAME on the default event bus
with the pattern of infra/event-pattern.json, optionally narrowed to some secrets. Everything it
creates is tagged managed-by=rotation-relay and rotation-relay:stack=NAME; nothing else is touched.

  plan     print what apply would change; writes nothing
  apply    create or update to match; run again, it prints "no changes" and writes nothing
  destroy  delete the rules and queues tagged with this stack name, and only those; refuses,
           deleting nothing, while NAME-dlq or NAME-events-dlq holds messages (see --force)
  verify   prove the deployed rule routes the sample events: TestEventPattern on AWS; against an
           emulator (AWS_ENDPOINT_URL set) a temporary copy of the rule with source
           ${VERIFY_SOURCE} and a temporary queue, since emulators lack TestEventPattern and
           PutEvents refuses aws.* sources

Options:
  --name NAME              stack name (default ${INFRA_DEFAULTS.name}; letters, digits, - and _, at most 48)
  --secret-arn ARN         forward only this secret's events; repeat for more (full ARNs)
  --secret-prefix PREFIX   forward only secrets whose name starts with PREFIX; '*' for every
                           secret in the account and region. plan, apply and verify need one
                           of the two: there is no default scope
  --redrive-principal ARN  apply: an IAM role or user that may send to queue NAME besides the
                           rule, to redrive NAME-dlq into it; repeat for more (default: none,
                           the queue policy denies every other sender)
  --force                  destroy: delete the DLQs even when they hold messages
  --max-receive-count N    receives before a message moves to NAME-dlq (default ${INFRA_DEFAULTS.maxReceiveCount})
  --method METHOD          verify: auto (default), test-pattern or mirror
  --wait-seconds N         verify by mirror: how long to wait for routed events (default 10)
  --json                   one JSON document instead of text
  -h, --help               show this help

Give plan and verify the same --secret-arn/--secret-prefix (and --redrive-principal) as apply:
they decide what apply wants and which samples must route.
Region, credentials and endpoints come from the AWS SDK's variables (AWS_REGION, AWS_PROFILE,
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL_SQS, …); see docs/deploy.md for
the IAM permissions. Exit codes: 0 done (verify: every sample as expected), 1 an AWS call failed
or verify found a mismatch, 2 bad usage.`;

const ACTIONS = ['plan', 'apply', 'destroy', 'verify'] as const;
type Action = (typeof ACTIONS)[number];

interface Flags {
  action: Action;
  options: InfraOptions;
  method: 'auto' | VerifyMethod;
  waitMs: number;
  json: boolean;
  force: boolean;
}

/** An IAM role or user (a redrive runs as one): what `aws:PrincipalArn` holds for it. */
const PRINCIPAL_ARN_RE = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)\/[\w+=,.@/-]{1,512}$/;

export async function infra(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags(argv);
  const aws = loadAwsConfig(io.env);
  const clients = createInfraClients(aws, io.env);
  try {
    const account = await resolveAccount(clients.eventBridge);
    switch (flags.action) {
      case 'plan':
        return await runPlan(clients, account, flags, clients.endpoint, io);
      case 'apply':
        return await runApply(clients, account, flags, clients.endpoint, io);
      case 'destroy':
        return await runDestroy(clients, account, flags, io);
      case 'verify':
        return await runVerify(clients, account, flags, clients.endpoint, io);
    }
  } finally {
    destroyClients(clients);
  }
}

function parseFlags(argv: string[]): Flags {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string', default: INFRA_DEFAULTS.name },
      'secret-arn': { type: 'string', multiple: true },
      'secret-prefix': { type: 'string' },
      'redrive-principal': { type: 'string', multiple: true },
      force: { type: 'boolean', default: false },
      'max-receive-count': { type: 'string' },
      method: { type: 'string', default: 'auto' },
      'wait-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, ...extra] = positionals;
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
    throw new UsageError(`infra takes one of ${ACTIONS.join(', ')}${action === undefined ? '' : ` (got "${[action, ...extra].join(' ')}")`}`);
  }
  if (!STACK_NAME_RE.test(values.name)) {
    throw new UsageError(`--name "${values.name}" must be 1-48 letters, digits, - or _ (it names queues and a rule)`);
  }
  // destroy finds the stack by its tags: which secrets it forwarded does not matter there.
  let scope: SecretScope = { kind: 'all' };
  if (action !== 'destroy') {
    try {
      scope = parseScope(values['secret-arn'], values['secret-prefix']);
    } catch (error) {
      if (error instanceof ScopeError) throw new UsageError(error.message);
      throw error;
    }
  }
  const redrivePrincipals = [...new Set(values['redrive-principal'] ?? [])];
  for (const principal of redrivePrincipals) {
    if (!PRINCIPAL_ARN_RE.test(principal)) {
      throw new UsageError(`--redrive-principal ${JSON.stringify(principal)} must be an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
    }
  }
  if (values.force && action !== 'destroy') throw new UsageError('--force applies only to destroy');
  const method = values.method;
  if (method !== 'auto' && method !== 'test-pattern' && method !== 'mirror') {
    throw new UsageError(`--method must be auto, test-pattern or mirror (got "${method}")`);
  }
  return {
    action: action as Action,
    options: {
      name: values.name,
      scope,
      maxReceiveCount: intFlag('--max-receive-count', values['max-receive-count'], INFRA_DEFAULTS.maxReceiveCount, 1, 1000),
      redrivePrincipals,
    },
    method,
    waitMs: intFlag('--wait-seconds', values['wait-seconds'], 10, 1, 300) * 1000,
    json: values.json,
    force: values.force,
  };
}

function intFlag(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return value;
}

function header(verb: string, flags: Flags, account: AccountContext): string {
  return `${verb} stack ${flags.options.name} in ${account.region} (account ${account.accountId}), forwarding ${describeScope(flags.options.scope)}:`;
}

async function makePlan(clients: InfraClients, account: AccountContext, flags: Flags, endpoint: string | undefined): Promise<Plan> {
  const desired = buildDesiredState(flags.options, account, loadBasePattern());
  // An endpoint override means an emulator (as for verify's method): moto_server does not report every attribute.
  return computePlan(desired, await observeState(clients, desired), endpoint ? { unreportedAttributes: EMULATOR_UNREPORTED_ATTRIBUTES } : {});
}

async function runPlan(clients: InfraClients, account: AccountContext, flags: Flags, endpoint: string | undefined, io: CliIo): Promise<number> {
  const plan = await makePlan(clients, account, flags, endpoint);
  if (flags.json) io.out(JSON.stringify(planJson(plan)));
  else io.out(formatPlan(plan, header('plan for', flags, account)).join('\n'));
  return EXIT.ok;
}

async function runApply(clients: InfraClients, account: AccountContext, flags: Flags, endpoint: string | undefined, io: CliIo): Promise<number> {
  const plan = await makePlan(clients, account, flags, endpoint);
  if (!flags.json) io.out(formatPlan(plan, header('apply to', flags, account)).join('\n'));
  const applied = await applyPlan(clients, plan, (change) => {
    if (!flags.json) io.out(change.message);
  });
  const queue = (await observeState(clients, plan.desired)).queues.get(plan.desired.names.queue);
  const queueUrl = queue?.url ?? '';
  if (flags.json) {
    io.out(JSON.stringify({ ...(planJson(plan) as object), applied: applied.map((a) => a.message), queueUrl }));
  } else {
    if (applied.length > 0) io.out(`applied ${applied.length} change${applied.length === 1 ? '' : 's'}`);
    io.out(`worker: ROTATION_RELAY_QUEUE_URL=${queueUrl}`);
  }
  return EXIT.ok;
}

async function runDestroy(clients: InfraClients, account: AccountContext, flags: Flags, io: CliIo): Promise<number> {
  if (!flags.json) io.out(`destroy stack ${flags.options.name} in ${account.region} (account ${account.accountId}):`);
  const result = await destroyStack(clients, flags.options.name, {
    force: flags.force,
    onDeleted: (resource) => {
      if (!flags.json) io.out(`  - deleted ${resource}`);
    },
  });
  if (flags.json) {
    io.out(JSON.stringify({ stack: flags.options.name, region: account.region, account: account.accountId, ...result }));
    return EXIT.ok;
  }
  for (const kept of result.kept) io.out(`  = kept ${kept.resource} (${kept.reason})`);
  io.out(
    result.deleted.length === 0
      ? `nothing to destroy: no rule or queue is tagged with stack ${flags.options.name}`
      : `destroyed ${result.deleted.length} resource${result.deleted.length === 1 ? '' : 's'}`,
  );
  return EXIT.ok;
}

async function runVerify(clients: InfraClients, account: AccountContext, flags: Flags, endpoint: string | undefined, io: CliIo): Promise<number> {
  const method: VerifyMethod = flags.method === 'auto' ? (endpoint ? 'mirror' : 'test-pattern') : flags.method;
  const report = await verifyRule(clients, account, {
    stack: flags.options.name,
    scope: flags.options.scope,
    method,
    waitMs: flags.waitMs,
    basePattern: loadBasePattern(),
  });
  if (flags.json) io.out(JSON.stringify(report));
  else io.out(formatVerify(report, flags, account, endpoint).join('\n'));
  return report.ok ? EXIT.ok : EXIT.failure;
}

function formatVerify(report: VerifyReport, flags: Flags, account: AccountContext, endpoint: string | undefined): string[] {
  const how =
    report.method === 'test-pattern'
      ? 'TestEventPattern with the deployed pattern'
      : `a temporary copy of the rule with source ${VERIFY_SOURCE} and a temporary queue${endpoint ? ` on ${endpoint}` : ''}`;
  const lines = [`verify rule ${report.rule} in ${account.region} (account ${account.accountId}), forwarding ${describeScope(flags.options.scope)}, by ${how}:`];
  lines.push(
    formatTable(
      ['SAMPLE', 'EVENT', 'EXPECTED', 'ACTUAL', 'RESULT'],
      report.cases.map((c) => [c.id, c.description, c.expected === 'route' ? 'route' : 'no route', c.actual, c.ok ? 'ok' : `FAIL${c.note ? ` (${c.note})` : ''}`]),
    ),
  );
  for (const check of report.checks) lines.push(`check ${check.name}: ${check.detail}: ${check.ok ? 'ok' : 'FAIL'}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  const good = report.cases.filter((c) => c.ok).length;
  lines.push(
    report.ok
      ? `verified: ${good} of ${report.cases.length} samples as expected`
      : `verify FAILED: ${good} of ${report.cases.length} samples as expected, ${report.checks.filter((c) => !c.ok).length} check(s) failed`,
  );
  return lines;
}
