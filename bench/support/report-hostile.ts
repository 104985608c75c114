/**
 * The `hostile` scenario's part of the generated documents: its README rows, its latest.md
 * section and its targets (issue 13's limits). Every figure comes from latest.json.
 */
import type { HostileFlood } from '../hostile.js';

export interface Hostile {
  /** The Secrets Manager double's delay per read in this run. */
  delayMs: number;
  floods: HostileFlood[];
}

export interface HostileTarget {
  what: string;
  measured: number | null;
  limit: string;
  met: boolean | null;
}

const LABEL: Record<HostileFlood['kind'], string> = {
  forged: 'forged unsigned messages (unsigned opt-in), each naming a random version',
  replayed: 'replays of one older genuine signed message',
};

/** Computed, never measured as such: the flood's switch time over the floor's. */
const ratio = (flood: HostileFlood): number => Math.round((flood.genuineSwitchMs / Math.max(1, flood.floorSwitchMs)) * 10) / 10;

export function hostileTargets(hostile: Hostile | undefined): HostileTarget[] {
  const t = (what: string, measured: number | undefined, limit: string, ok: (v: number) => boolean): HostileTarget => ({
    what,
    measured: measured ?? null,
    limit,
    met: measured === undefined ? null : ok(measured),
  });
  return (['forged', 'replayed'] as const).flatMap((kind) => {
    const flood = hostile?.floods.find((f) => f.kind === kind);
    const n = flood ? flood.messages.toLocaleString('en-US') : 'N';
    return [
      t(`hostile, ${n} ${kind}: GetSecretValue for the secret, one instance`, flood?.getSecretValue, '≤ 3', (v) => v <= 3),
      t(`hostile, ${n} ${kind}: RSS growth of the instance (MB)`, flood?.rssGrowthMb, '≤ 10', (v) => v <= 10),
      t(`hostile, ${n} ${kind}: genuine rotation during the flood, broadcast → switched (ms)`, flood?.genuineSwitchMs, '≤ 1,000', (v) => v <= 1_000),
    ];
  });
}

/** The README rows (one per flood). */
export function hostileRows(hostile: Hostile): string[] {
  return hostile.floods.map(
    (f) =>
      `| hostile: ${f.messages.toLocaleString('en-US')} ${LABEL[f.kind]}, one instance (GetSecretValue, RSS growth, genuine rotation's broadcast → switched) | ${f.getSecretValue}, +${f.rssGrowthMb} MB, ${Math.round(f.genuineSwitchMs)} ms | floors: no flood ${f.floorGetSecretValue} read, ${Math.round(f.floorSwitchMs)} ms; receiving as many messages for another secret, cold: +${f.floorRssGrowthMb} MB |`,
  );
}

export function hostileSection(hostile: Hostile): string[] {
  const out = ['## Hostile input', ''];
  out.push(
    'One app instance (a CredentialCache in its own process, one secret) on a private redis-server, the Secrets Manager double at ' +
      `${hostile.delayMs} ms per read. Each flood is published by one client, pipelined in chunks of 500, as anyone allowed to PUBLISH could; ` +
      'halfway through, a genuine rotation is made and broadcast in the same stream. *GetSecretValue* = calls for the secret counted by the double ' +
      '(answered or not) from just before the flood until the instance had taken every message and a second passed without a read, the genuine rotation ' +
      'included; *RSS growth* = peak during the flood − the baseline after a full GC just before it (sampled every 10 ms in the instance); *switched* = the ' +
      "genuine broadcast → the instance's `rotated` event. Floors, same instance, same run: the genuine rotation with nothing else on the channel; and, " +
      'just before each flood, a *receive-only* flood of as many messages of the same kind naming a secret the instance does not hold (parsed, verified, ' +
      "dropped): the first burst a process takes grows V8's young generation, which stays committed, so that floor's RSS growth is what any 10,000 " +
      'messages cost a cold process, and the flood\'s own growth is what the SDK adds on top. The ratio is computed from the two switch times.',
    '',
  );
  out.push('| flood | messages | GetSecretValue (floor) | RSS baseline → peak (MB) | receive-only floor: RSS growth (MB) | genuine switched (floor), ms | ratio to floor (computed) | drained in | refreshes throttled |');
  out.push('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const f of hostile.floods) {
    out.push(
      `| ${LABEL[f.kind]} | ${f.messages.toLocaleString('en-US')} | ${f.getSecretValue} (${f.floorGetSecretValue}) | ${f.rssBaselineMb} → ${f.rssPeakMb} (+${f.rssGrowthMb}) | +${f.floorRssGrowthMb} | ${Math.round(f.genuineSwitchMs)} (${Math.round(f.floorSwitchMs)}) | ${ratio(f)}× | ${(f.drainMs / 1000).toFixed(1)} s | ${f.refreshesThrottled} |`,
    );
  }
  out.push('');
  return out;
}

/**
 * The measured bounds SECURITY.md states (between its hostile-bounds markers), written by a full
 * run like the README table: the threat model quotes the bench, it never types figures.
 */
export function hostileBoundsText(hostile: Hostile, run: { node: string; cores: number; date: string }): string {
  const forged = hostile.floods.find((f) => f.kind === 'forged');
  const replayed = hostile.floods.find((f) => f.kind === 'replayed');
  const n = (f: HostileFlood | undefined): string => (f ? f.messages.toLocaleString('en-US') : '?');
  const floors = hostile.floods.map((f) => f.floorRssGrowthMb);
  return [
    `${n(forged)} forged unsigned messages each naming a random version cost ${forged?.getSecretValue ?? '?'} GetSecretValue for the secret,`,
    `+${forged?.rssGrowthMb ?? '?'} MB of RSS, and a genuine rotation broadcast halfway switched the instance ${Math.round(forged?.genuineSwitchMs ?? NaN)} ms after its`,
    `broadcast (${Math.round(forged?.floorSwitchMs ?? NaN)} ms with no flood); ${n(replayed)} replays of one older genuine signed message cost ${replayed?.getSecretValue ?? '?'}`,
    `GetSecretValue (the genuine rotation's included), +${replayed?.rssGrowthMb ?? '?'} MB, and the genuine rotation switched after ${Math.round(replayed?.genuineSwitchMs ?? NaN)} ms`,
    `(${Math.round(replayed?.floorSwitchMs ?? NaN)} ms with no flood). Node ${run.node}, ${run.cores} cores, ${run.date.slice(0, 10)}. Before each flood the bench sends a receive-only`,
    `one (as many messages naming a secret the instance does not hold): on a cold process it grew RSS by`,
    `${Math.min(...floors)}–${Math.max(...floors)} MB whatever the messages are, a cost of receiving that no bound in the SDK can remove.`,
  ].join('\n');
}
