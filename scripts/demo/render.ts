/** The demo's output as pure functions of the model: the live table, the per-rotation line, the summary. */
import { formatTable } from '../../src/ops/cli/table.js';
import { SECRET_KINDS, type RotationMode, type SecretKind } from '../../test/support/rotation-targets.js';
import { OP_KINDS, type CompletedRotation, type DemoModel, type Propagation } from './model.js';

export interface DemoSettings {
  rounds: number;
  intervalMs: number;
  windowMs: number;
}

const MODE: Record<RotationMode, string> = {
  'single-user': 'single-user: password changed at setSecret, AWSCURRENT moved later',
  overlap: 'overlap: old and new password both valid until every instance moved',
  'hard-switch': 'hard switch: only the new password works from setSecret on',
};

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const short = (versionId: string | undefined): string => (versionId ? versionId.slice(0, 8) : '-');
const thousands = (n: number): string => n.toLocaleString('en-US');

export function elapsed(model: DemoModel, now = Date.now()): string {
  const s = Math.floor((now - model.startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** How an instance came to its version: the latency from the event, or what made it refresh first. */
function latencyCell(trigger: string, ms: number | undefined): string {
  if (trigger === 'invalidation' && ms !== undefined) return `${ms} ms`;
  if (trigger === 'auth-failure') return 'by login';
  return trigger === 'unknown' ? '-' : trigger;
}

/** The live table: one row per app instance. */
export function instanceTable(model: DemoModel): string[] {
  const headers = ['INSTANCE', ...SECRET_KINDS.map((kind) => kind.toUpperCase()), 'OPS OK', 'FAILED', 'LOGINS RECOVERED'];
  const rows = [...model.instances.values()].map((instance) => {
    const cells = SECRET_KINDS.map((kind) => {
      const held = instance.versions[kind];
      const adoption = instance.adopted[kind];
      const stale = model.current[kind] !== undefined && held !== model.current[kind] ? '*' : ' ';
      const latency = adoption && adoption.versionId === held ? latencyCell(adoption.trigger, model.latencyOf(adoption)) : '';
      return `${short(held)}${stale} ${latency.padStart(8)}`;
    });
    const ops = instance.final?.ops ?? instance.ops;
    const ok = OP_KINDS.reduce((sum, kind) => sum + ops[kind].ok, 0);
    const failed = OP_KINDS.reduce((sum, kind) => sum + ops[kind].failed, 0);
    return [instance.id, ...cells, thousands(ok), String(failed), String(instance.final?.authRecoveries ?? instance.authRecoveries)];
  });
  return formatTable(headers, rows).split('\n');
}

function propagationText(propagations: Propagation[]): string {
  return propagations.map((p) => `${p.instanceId} ${latencyCell(p.trigger, p.ms)}`).join(', ');
}

/** One line per finished rotation: the non-TTY output, and the "recent" lines of the live view. */
export function rotationLine(model: DemoModel, rotation: CompletedRotation, settings: DemoSettings): string {
  const total = Number.isFinite(settings.rounds) ? `/${settings.rounds * SECRET_KINDS.length}` : '';
  const { ok, failed } = model.totals();
  return (
    `[${elapsed(model, rotation.finishedAt)}] rotation ${rotation.n}${total}: ${rotation.kind.padEnd(5)} → ${short(rotation.newVersion)} ` +
    `(${rotation.mode}): ${propagationText(rotation.propagations)} · operations ${thousands(ok)} ok / ${failed} failed`
  );
}

export interface Endpoints {
  moto: string;
  bus: string;
  queueUrl: string;
  rule: string;
  postgres: string;
  redis: string;
  smtp: string;
}

/** What was started where: printed once, and at the top of the live view. */
export function endpointLines(endpoints: Endpoints, model: DemoModel): string[] {
  const health = model.worker.healthPort ? `, /readyz on 127.0.0.1:${model.worker.healthPort}` : '';
  const queue = endpoints.queueUrl.slice(endpoints.queueUrl.lastIndexOf('/') + 1);
  return [
    `moto_server ${endpoints.moto} (Secrets Manager · EventBridge rule ${endpoints.rule} → SQS queue ${queue}) · invalidations on ${endpoints.bus}`,
    `worker pid ${model.worker.pid ?? '-'}${health} · app servers: PostgreSQL ${endpoints.postgres}, Redis ${endpoints.redis}, SMTP ${endpoints.smtp}`,
  ];
}

/** `rotation-relay status` against the demo's bus, as a checkout runs it (npm ci builds dist/): it reads Redis only. */
export function statusCommand(endpoints: Endpoints): string {
  return `ROTATION_RELAY_REDIS_URL=${endpoints.bus} node dist/ops/cli/main.js status`;
}

/** The whole live view, redrawn in place on a terminal. */
export function frame(model: DemoModel, endpoints: Endpoints, settings: DemoSettings, recent: string[]): string[] {
  const until = Number.isFinite(settings.rounds) ? `stops after ${plural(settings.rounds, 'rotation')} of each secret` : 'runs until Ctrl-C';
  const counts = SECRET_KINDS.map((kind) => `${kind} ${model.rotations[kind]}`).join(' · ');
  const receivers = model.worker.receivers === undefined ? '' : `, the last reached ${model.worker.receivers} subscribers`;
  const publishMs = [...model.worker.publishMs].sort((a, b) => a - b);
  const workerLatency = publishMs.length > 0 ? `; SQS receive → publish p50 ${percentile(publishMs, 0.5)} ms` : '';
  return [
    `rotation-relay demo · ${model.instances.size} app instances · ${elapsed(model)} · ${until} · Ctrl-C stops and cleans up`,
    ...endpointLines(endpoints, model),
    `fleet view (another terminal): ${statusCommand(endpoints)}`,
    '',
    `rotations  ${counts}  (one every ${(settings.intervalMs / 1000).toFixed(1)} s; db single-user window ${settings.windowMs} ms)`,
    `now        ${model.phase}`,
    `worker     ${plural(model.eventsPut, 'event')} put on EventBridge → ${plural(model.worker.published, 'invalidation')} published${receivers}${workerLatency}`,
    '',
    ...instanceTable(model),
    '',
    `latency = event enqueued on SQS → new credentials in place in the instance; * = not yet on AWSCURRENT; "by login" = a failed login refreshed it first`,
    ...(model.problems.length > 0 ? ['', ...model.problems.slice(-3).map((p) => `! ${p}`)] : []),
    '',
    'recent',
    ...(recent.length > 0 ? recent.map((line) => `  ${line}`) : ['  (the first rotation is on its way)']),
  ];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** The last line: totals, and OK only when no operation failed and every rotation reached every instance. */
export function summaryLine(model: DemoModel, ok: boolean): string {
  const { ops, ok: okOps, failed, authRecoveries } = model.totals();
  const propagations = model.completed.flatMap((r) => r.propagations);
  const viaEvent = propagations.filter((p) => p.trigger === 'invalidation' && p.ms !== undefined);
  const byEvent = viaEvent.map((p) => p.ms as number).sort((a, b) => a - b);
  const refresh = viaEvent
    .flatMap((p) => (p.refreshMs === undefined ? [] : [Math.round(p.refreshMs)]))
    .sort((a, b) => a - b);
  const refreshPart = refresh.length > 0 ? ` (of which the instance's read of the new version: p50 ${percentile(refresh, 0.5)} ms)` : '';
  const byLogin = propagations.filter((p) => p.trigger === 'auth-failure').length;
  const latency =
    byEvent.length > 0
      ? `${byEvent.length} by invalidation: p50 ${percentile(byEvent, 0.5)} ms, p95 ${percentile(byEvent, 0.95)} ms, max ${byEvent.at(-1)} ms${refreshPart}`
      : 'none by invalidation';
  const perKind = OP_KINDS.map((kind) => `${kind} ${thousands(ops[kind].ok)}/${ops[kind].failed}`).join(', ');
  const rotations = SECRET_KINDS.map((kind: SecretKind) => `${kind} ${model.rotations[kind]}`).join(', ');
  return (
    `demo summary: ${model.completed.length} rotations (${rotations}) · ${propagations.length} propagations, ${latency}` +
    `${byLogin > 0 ? `, ${byLogin} by a failed login first` : ''} · operations ${thousands(okOps)} ok / ${failed} failed (${perKind}) · ` +
    `${authRecoveries} logins recovered · ${ok ? 'OK' : 'FAILED'}`
  );
}

export { MODE as MODE_DESCRIPTIONS };
