import { fileURLToPath } from 'node:url';
import { runTsProcess, type CliProcess } from '../cli-process.js';
import type { AppInstanceConfig } from './main.js';

export type { AppInstanceConfig } from './main.js';

/** The app instance's entry point (./main.ts), run through tsx. */
export const APP_INSTANCE_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

type OpCounts = Record<'pg' | 'redis' | 'smtp', { ok: number; failed: number }>;

/** The JSON lines an app instance prints on stdout, one object per line. */
export type AppInstanceLine =
  | { type: 'ready'; instanceId: string; versions: Record<string, string> }
  | { type: 'stats'; instanceId: string; versions: Record<string, string>; counts: OpCounts; authRecoveries: number }
  | { type: 'rotated'; instanceId: string; name: string; versionId: string; trigger: string; refreshMs?: number; at: number }
  | {
      type: 'summary';
      instanceId: string;
      versions: Record<string, string>;
      status: { counts: { authRecoveries: number; missedByEvents: number } };
      results: Record<'pg' | 'redis' | 'smtp', { operations: number; failed: number; failures: unknown[]; p99LatencyMs: number; maxLatencyMs: number }>;
    };

/**
 * Starts one app instance as its own process. `detached` puts it in its own process group, so a
 * Ctrl-C in the terminal reaches only the program that started it (which stops it in order).
 */
export function launchAppInstance(config: AppInstanceConfig, options: { detached?: boolean } = {}): CliProcess {
  return runTsProcess(APP_INSTANCE_MAIN, [], { APP_INSTANCE_CONFIG: JSON.stringify(config) }, config.instanceId, options);
}

/** Parses one stdout line of an app instance; undefined for anything that is not one of its JSON lines. */
export function parseAppInstanceLine(line: string): AppInstanceLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { type?: unknown };
    return typeof parsed.type === 'string' ? (parsed as AppInstanceLine) : undefined;
  } catch {
    return undefined;
  }
}
