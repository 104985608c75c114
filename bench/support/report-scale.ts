/**
 * The `scale` scenario's part of the generated documents (bench/scale.ts): its README rows, its
 * latest.md section (no target: the issue asks for the figures, and what they mean for sizing is docs/operations.md's). Every figure comes from latest.json `scale`.
 */

/** One series of publishes to the listen-only fleet, with or without the presence load. */
export interface ScaleDelivery {
  /** `none`: nothing else on Redis (the floor); `presence`: every simulated instance's heartbeat and every listener's PING running. */
  load: 'none' | 'presence';
  /** Measured publishes (after the warm-up ones). */
  publishes: number;
  /** Per publish: the publish script stamped just before the call → the last of the N receipts; p50 / p99 / max over publishes. */
  lastP50Ms: number;
  lastP99Ms: number;
  lastMaxMs: number;
  /** Per publish: the median instance's receipt (p50 over instances), then the p50 over publishes. */
  instanceP50Ms: number;
  /** Per publish: the same stamp → the script's reply back in the publisher (Redis has queued the message to every subscriber); p50 over publishes. */
  replyP50Ms: number;
  /** Receipts that never came, over all measured publishes (0 when every connection got every message). */
  missing: number;
  /**
   * Computed: redis-server CPU (INFO cpu) from just before each publish until the last receipt,
   * minus the phase's background rate over that time (the idle rate for `none`, the presence
   * window's rate for `presence`); p50 over publishes, ms.
   */
  redisCpuMsPerPublishP50: number;
  /** INFO commandstats: time inside PUBLISH (called by the script), µs per call; the writes to the sockets happen after it and are in the CPU figure only. */
  publishUsecPerCall: number;
  /** INFO commandstats: time inside the publish script (EVALSHA, its PUBLISH included), µs per call. */
  scriptUsecPerCall: number;
}

export interface ScalePresence {
  /** The measured steady window (every simulated instance registered, its heartbeat running), seconds. */
  windowSeconds: number;
  /** Presence commands (ZADD, HSET, HDEL, PEXPIRE, ZREMRANGEBYSCORE) per second, INFO commandstats delta over the window. */
  commandsPerSecond: number;
  /** The same per command name, per second. */
  commandsByName: Record<string, number>;
  /** Computed: commandsPerSecond ÷ (instances ÷ heartbeat in s): commands in one instance's heartbeat write (4 by the protocol). */
  commandsPerInstancePerHeartbeat: number;
  /** The listeners' PINGs per second over the window (the SDK checks its subscribed connection once per heartbeat). */
  pingsPerSecond: number;
  /** redis-server CPU over the window, % of one core (INFO cpu delta ÷ wall time). */
  redisCpuPercent: number;
  /** The same minus the idle window's (same connections, nothing running). */
  redisCpuPercentAboveIdle: number;
  /** Presence start → every simulated instance's first write landed, ms (the writers' starts are spread over `rampMs`). */
  registeredMs: number;
  rampMs: number;
  /** Pipelines the writers completed, and those that failed, over the whole scenario. */
  writes: number;
  failedWrites: number;
}

export interface ScaleAckBurst {
  /** Bursts measured: each, every simulated instance acks a new version of one secret at once, as after a rotation reaches them all. */
  bursts: number;
  /** Start of the burst → every instance's write carrying the new version has landed; p50 and max over bursts, ms. */
  allAckedP50Ms: number;
  allAckedMaxMs: number;
  /** Presence commands counted by Redis during each burst (heartbeats that fell into it included); p50 over bursts. */
  commandsP50: number;
  /** Computed: redis-server CPU during each burst minus the presence window's rate over its duration; p50 over bursts, ms. */
  redisCpuMsAboveSteadyP50: number;
}

export interface ScaleRedis {
  version: string;
  /** CONFIG GET maxclients after the start (redis-server lowers it by itself when the open-file limit is too small). */
  maxclients: number;
  connectedClients: number;
  /** redis-server CPU with every connection open and nothing running, % of one core. */
  idleCpuPercent: number;
  idleWindowSeconds: number;
  /**
   * INFO memory used_memory: empty; with the N subscribers (read after the idle window and the
   * floor, once redis-server has shrunk the connect storm's query buffers); at the end of the
   * presence window (MB).
   */
  usedMemoryEmptyMb: number;
  /** used_memory right after the N connected at once (the connect storm's query buffers, freed within seconds), MB. */
  usedMemoryAfterConnectMb: number;
  usedMemorySubscribedMb: number;
  usedMemoryPresenceMb: number;
  /** mem_clients_normal at the same two moments: what the connections themselves hold (MB). */
  clientsMemorySubscribedMb: number;
  clientsMemoryPresenceMb: number;
  /** used_memory_dataset at the end of the presence window: the keys (MB). */
  datasetPresenceMb: number;
  /** Computed: used_memory with the subscribers − empty, ÷ N. */
  bytesPerSubscriber: number;
  /** Computed: used_memory_dataset growth from before presence to the end of its window, ÷ M (the hash, its expiry, the sorted-set member). */
  bytesPerPresenceInstance: number;
  /** MEMORY USAGE of one instance's hash, p50 of 5 sampled. */
  presenceHashBytes: number;
  /** /proc VmRSS of redis-server at the end, and its peak (VmHWM), MB. */
  rssMb: number;
  peakRssMb: number;
}

export interface Scale {
  subscribers: number;
  listenerProcesses: number;
  presenceInstances: number;
  presenceProcesses: number;
  /** Connections the presence writers share, all processes together. */
  presenceConnections: number;
  heartbeatIntervalMs: number;
  ttlMs: number;
  secretsPerInstance: number;
  /** What a listener does before it stamps a receipt: `none` (stamped on arrival) or `signature` (the SDK's verifier accepted it). */
  verify: 'none' | 'signature';
  /** Bytes of the invalidation published (signed, like the worker's). */
  messageBytes: number;
  /** ulimit -n of the scenario (children and redis-server inherit it). */
  fdLimit: number;
  /** First connection → every subscriber SUBSCRIBEd, ms. */
  connectMs: number;
  /** Sum of the listener processes' RSS (MB), and of the presence processes', at the end of the loaded publishes. */
  listenerRssMb: number;
  presenceRssMb: number;
  loadAverage1mAtStart: number;
  redis: ScaleRedis;
  floor: ScaleDelivery;
  loaded: ScaleDelivery;
  presence: ScalePresence;
  ackBurst: ScaleAckBurst;
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const one = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '—');
const mb = (bytes: number): string => `${one(bytes / 1024)} KB`;
/** The README rows. */
export function scaleRows(scale: Scale): string[] {
  const n = int(scale.subscribers);
  return [
    `| scale: PUBLISH → the **last** of ${n} listen-only subscribers (${scale.listenerProcesses} processes, one redis-server), with presence for ${int(scale.presenceInstances)} instances running (p50 / p99 / max over ${scale.loaded.publishes} publishes) | ${one(scale.loaded.lastP50Ms)} / ${one(scale.loaded.lastP99Ms)} / ${one(scale.loaded.lastMaxMs)} ms | no presence load, same fleet: ${one(scale.floor.lastP50Ms)} / ${one(scale.floor.lastP99Ms)} / ${one(scale.floor.lastMaxMs)} ms |`,
    `| scale: redis-server for ${n} subscribers + presence of ${int(scale.presenceInstances)} instances (presence commands/s, CPU, used_memory, RSS) | ${int(scale.presence.commandsPerSecond)}/s, ${one(scale.presence.redisCpuPercent)} % of a core, ${one(scale.redis.usedMemoryPresenceMb)} MB, RSS ${one(scale.redis.rssMb)} MB | idle with the same connections: ${one(scale.redis.idleCpuPercent)} %, ${one(scale.redis.usedMemorySubscribedMb)} MB |`,
  ];
}

export function scaleSection(scale: Scale): string[] {
  const out = ['## Scale: one Redis, a simulated fleet', ''];
  out.push(
    `${int(scale.subscribers)} listen-only subscribers (plain ioredis connections SUBSCRIBEd to the real invalidation channel, ${scale.listenerProcesses} processes; ` +
      `receipt stamped ${scale.verify === 'signature' ? "after the SDK's verifier accepted the signature" : 'on arrival, nothing verified'}) on one private redis-server ${scale.redis.version} ` +
      `(maxclients ${int(scale.redis.maxclients)}, open-file limit ${int(scale.fdLimit)}); presence for ${int(scale.presenceInstances)} instances = the SDK's PresenceWriter per instance ` +
      `(heartbeat ${one(scale.heartbeatIntervalMs / 1000)} s, TTL ${one(scale.ttlMs / 1000)} s, ${scale.secretsPerInstance} secrets acked) in ${scale.presenceProcesses} processes sharing ${scale.presenceConnections} connections, ` +
      'and each subscriber connection PINGed once per heartbeat as the SDK checks its own. Each publish is the worker\'s publish script with a signed invalidation ' +
      `(${scale.messageBytes} bytes), stamped just before the call; *last* = that stamp → the last of the N receipts. Load average at start ${scale.loadAverage1mAtStart}: ` +
      'every subscriber shares the machine\'s cores with Redis here, so delivery times include the receivers\' CPU; Redis\'s own share is its CPU per publish.',
    '',
  );
  out.push('| publishes | load on Redis | last receipt p50 / p99 / max (ms) | median instance (ms) | script reply (ms) | missing | Redis CPU per publish (computed, ms) | inside PUBLISH / the script (µs per call) |');
  out.push('| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const d of [scale.floor, scale.loaded]) {
    out.push(
      `| ${d.publishes} | ${d.load === 'none' ? 'none (floor)' : `presence for ${int(scale.presenceInstances)} instances + PINGs`} | ${one(d.lastP50Ms)} / ${one(d.lastP99Ms)} / ${one(d.lastMaxMs)} | ${one(d.instanceP50Ms)} | ${one(d.replyP50Ms)} | ${d.missing} | ${one(d.redisCpuMsPerPublishP50)} | ${int(d.publishUsecPerCall)} / ${int(d.scriptUsecPerCall)} |`,
    );
  }
  out.push('');
  const p = scale.presence;
  const byName = Object.entries(p.commandsByName)
    .map(([name, perSecond]) => `${name.toUpperCase()} ${int(perSecond)}`)
    .join(', ');
  out.push(
    `Presence, steady over ${one(p.windowSeconds)} s: **${int(p.commandsPerSecond)} commands/s** (${byName}; ${one(p.commandsPerInstancePerHeartbeat)} per instance per heartbeat, computed), ` +
      `${int(p.pingsPerSecond)} PINGs/s from the listeners; redis-server ${one(p.redisCpuPercent)} % of a core (${one(p.redisCpuPercentAboveIdle)} % above idle, idle ${one(scale.redis.idleCpuPercent)} %). ` +
      `Every instance registered ${int(p.registeredMs)} ms after the start (starts spread over ${int(p.rampMs)} ms); ${int(p.writes)} writes, ${p.failedWrites} failed. ` +
      `Ack burst (every instance acks a new version at once, ${scale.ackBurst.bursts}×): all written after ${int(scale.ackBurst.allAckedP50Ms)} ms p50 / ${int(scale.ackBurst.allAckedMaxMs)} ms max, ` +
      `${int(scale.ackBurst.commandsP50)} presence commands, ${one(scale.ackBurst.redisCpuMsAboveSteadyP50)} ms of redis-server CPU above the steady rate (computed).`,
    '',
  );
  const r = scale.redis;
  out.push(
    `Memory (INFO used_memory): ${one(r.usedMemoryEmptyMb)} MB empty, ${one(r.usedMemorySubscribedMb)} MB with the subscribers (${mb(r.bytesPerSubscriber)} each, computed; connections ${one(r.clientsMemorySubscribedMb)} MB), ` +
      `${one(r.usedMemoryPresenceMb)} MB with presence too (dataset ${one(r.datasetPresenceMb)} MB, ${mb(r.bytesPerPresenceInstance)} per instance, computed; one instance's hash ${mb(r.presenceHashBytes)} by MEMORY USAGE; connections ${one(r.clientsMemoryPresenceMb)} MB); ` +
      `right after the ${int(scale.subscribers)} connected at once ${one(r.usedMemoryAfterConnectMb)} MB (query buffers, freed within seconds); redis-server RSS ${one(r.rssMb)} MB at the end, peak ${one(r.peakRssMb)} MB. ` +
      `Connected: ${int(r.connectedClients)} clients, all ready ${int(scale.connectMs)} ms after the first connect. Listener processes ${one(scale.listenerRssMb)} MB RSS together, presence processes ${one(scale.presenceRssMb)} MB.`,
    '',
  );
  return out;
}

/**
 * docs/operations.md's sizing figures (between its scale-figures markers): the measured rows of
 * one run, with the computed ones marked. Generated, never typed: a new run rewrites them.
 */
export function scaleSizingText(scale: Scale, run: { node: string; cores: number; date: string; loadAverage1mAtStart: number }): string {
  const n = int(scale.subscribers);
  const perSubscriberUs = (scale.floor.redisCpuMsPerPublishP50 * 1000) / scale.subscribers;
  const r = scale.redis;
  const p = scale.presence;
  return [
    `Run of ${run.date.slice(0, 10)} on ${run.cores} cores, Node ${run.node}, load average ${run.loadAverage1mAtStart} at the start of the bench; every subscriber on the same cores as Redis.`,
    '',
    `| at ${n} | measured |`,
    '| --- | --- |',
    `| redis-server CPU per broadcast (its single thread; p50 over ${scale.floor.publishes}) | ${one(scale.floor.redisCpuMsPerPublishP50)} ms; inside PUBLISH itself ${one(scale.floor.publishUsecPerCall / 1000)} ms, the rest is writing to the sockets; ${one(perSubscriberUs)} µs per subscriber (computed) |`,
    `| broadcast → the last of ${n} receipts, no other load (p50 / p99) | ${one(scale.floor.lastP50Ms)} / ${one(scale.floor.lastP99Ms)} ms |`,
    `| the same with the presence of ${int(scale.presenceInstances)} instances running | ${one(scale.loaded.lastP50Ms)} / ${one(scale.loaded.lastP99Ms)} ms |`,
    `| presence of ${int(scale.presenceInstances)} instances | ${int(p.commandsPerSecond)} commands/s + ${int(p.pingsPerSecond)} PINGs/s: ${one(p.redisCpuPercent)} % of a core (${one(p.redisCpuPercentAboveIdle)} % above idle) |`,
    `| ${n} connections, idle | ${one(r.idleCpuPercent)} % of a core |`,
    `| a rotation's acks (every instance writes its ack at once; p50 / max over ${scale.ackBurst.bursts}) | ${int(scale.ackBurst.commandsP50)} commands, all written after ${int(scale.ackBurst.allAckedP50Ms)} / ${int(scale.ackBurst.allAckedMaxMs)} ms, ${one(scale.ackBurst.redisCpuMsAboveSteadyP50)} ms of redis-server CPU above the steady rate (computed) |`,
    `| memory (INFO used_memory) | ${one(r.usedMemorySubscribedMb)} MB with the subscribers (${mb(r.bytesPerSubscriber)} each, computed), ${one(r.usedMemoryPresenceMb)} MB with presence (${mb(r.bytesPerPresenceInstance)} per instance, computed); RSS ${one(r.rssMb)} MB, peak ${one(r.peakRssMb)} MB |`,
    `| right after ${n} connections opened at once | ${one(r.usedMemoryAfterConnectMb)} MB used_memory (their first query buffers, freed within seconds) |`,
  ].join('\n');
}

