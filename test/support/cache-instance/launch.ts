import { fileURLToPath } from 'node:url';
import { runTsProcess, type CliProcess } from '../cli-process.js';
import type { CacheInstanceConfig } from './main.js';

const CACHE_INSTANCE = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Starts ./main.ts as its own process (an app instance reduced to its cache). */
export function launchCacheInstance(config: CacheInstanceConfig, label = 'cache instance'): CliProcess {
  return runTsProcess(CACHE_INSTANCE, [], { CACHE_INSTANCE_CONFIG: JSON.stringify(config) }, label);
}

/** Waits for the instance's `ready` line and returns the presence instance id it registered. */
export async function readyInstanceId(instance: CliProcess): Promise<string> {
  const line = await instance.waitForLine('stdout', (l) => l.includes('"type":"ready"'), 'a cache instance to start', 30_000);
  return (JSON.parse(line) as { instanceId: string }).instanceId;
}
