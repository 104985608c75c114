/**
 * What the `scale` scenario reads of its private redis-server: CPU time, calls per command, memory
 * and the server's RSS, all from outside the measured clients (one `INFO` on the scenario's own
 * admin connection, and /proc for the process). Deltas between two readings give a phase's cost.
 */
import type { Redis } from 'ioredis';
import { memoryMb } from './proc.js';

export interface RedisReading {
  /** When it was taken (ms, the bench clock). */
  at: number;
  /** used_cpu_sys + used_cpu_user, seconds (getrusage of redis-server: every thread). */
  cpuSeconds: number;
  /** cmdstat_<name> → calls. */
  calls: Map<string, number>;
  /** cmdstat_<name> → usec (time spent inside the command itself). */
  usec: Map<string, number>;
  usedMemoryBytes: number;
  /** used_memory_dataset: the keys and values (used_memory minus the server's overhead). */
  datasetBytes: number;
  /** mem_clients_normal: buffers and structures of the (non-replica) client connections. */
  clientsBytes: number;
  connectedClients: number;
  pubsubChannels: number;
  /** VmRSS / VmHWM of redis-server (MB), from /proc; NaN when /proc cannot be read. */
  rssMb: number;
  peakRssMb: number;
}

const field = (info: string, name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);

/** redis-server's pid, from INFO server (the test support's handle does not expose it). */
export async function redisPid(admin: Redis): Promise<number> {
  return field(await admin.info('server'), 'process_id');
}

/**
 * `cpu: 'last'` reads the CPU time after everything else (a reading taken just before what it
 * measures), `cpu: 'first'` before everything else (just after it): either way the readings' own
 * INFO work stays almost entirely outside the CPU delta between them, so a delta of 1 ms is the
 * server's, not the bench's. `at` is the time of the CPU reading.
 */
export async function readRedis(admin: Redis, pid: number, cpu: 'first' | 'last' = 'last'): Promise<RedisReading> {
  const cpuNow = async (): Promise<{ cpuSeconds: number; at: number }> => {
    const info = await admin.info('cpu');
    return { cpuSeconds: field(info, 'used_cpu_sys') + field(info, 'used_cpu_user'), at: performance.timeOrigin + performance.now() };
  };
  const early = cpu === 'first' ? await cpuNow() : undefined;
  const info = await admin.info('everything');
  const late = cpu === 'last' ? await cpuNow() : undefined;
  const { cpuSeconds, at } = (early ?? late) as { cpuSeconds: number; at: number };
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
    usec.set(match[1] as string, Number(match[3]));
  }
  let rss = { rssMb: Number.NaN, peakRssMb: Number.NaN };
  try {
    rss = memoryMb(pid);
  } catch {
    // not Linux, or the process is gone: the INFO figures stand on their own
  }
  return {
    at,
    cpuSeconds,
    calls,
    usec,
    usedMemoryBytes: field(info, 'used_memory'),
    datasetBytes: field(info, 'used_memory_dataset'),
    clientsBytes: field(info, 'mem_clients_normal'),
    connectedClients: field(info, 'connected_clients'),
    pubsubChannels: field(info, 'pubsub_channels'),
    ...rss,
  };
}

export interface RedisDelta {
  seconds: number;
  /** CPU milliseconds redis-server used between the readings. */
  cpuMs: number;
  /** name → calls between the readings (the readings' own INFO left out). */
  calls: Record<string, number>;
  /** name → usec inside the command between the readings. */
  usec: Record<string, number>;
}

export function redisDelta(before: RedisReading, after: RedisReading): RedisDelta {
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  for (const [name, value] of after.calls) {
    if (name === 'info') continue;
    const d = value - (before.calls.get(name) ?? 0);
    if (d > 0) {
      calls[name] = d;
      usec[name] = (after.usec.get(name) ?? 0) - (before.usec.get(name) ?? 0);
    }
  }
  return { seconds: (after.at - before.at) / 1000, cpuMs: (after.cpuSeconds - before.cpuSeconds) * 1000, calls, usec };
}

/** The commands an SDK instance's presence writes are made of (docs/protocol.md, "Writing"). */
export const PRESENCE_COMMANDS = ['zadd', 'hset', 'hdel', 'pexpire', 'zremrangebyscore'] as const;

export function sumOf(counts: Record<string, number>, names: readonly string[]): number {
  return names.reduce((sum, name) => sum + (counts[name] ?? 0), 0);
}
