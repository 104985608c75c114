import { readFileSync } from 'node:fs';

/**
 * What the load test measures of a process, read from /proc (Linux; the test machines run it).
 * Reading /proc costs the measured process nothing, unlike asking it over IPC.
 */

/** CPU time (user + system) the process has used so far, in seconds (clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces: utime, stime are 14 and 15.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in MB; NaN once the process has exited. */
export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(match?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Least-squares slope of the samples (seconds, MB), in MB per minute; NaN for fewer than 3. */
export function slopeMbPerMinute(samples: ReadonlyArray<{ at: number; mb: number }>): number {
  const usable = samples.filter((sample) => Number.isFinite(sample.mb));
  const n = usable.length;
  if (n < 3) return Number.NaN;
  const meanX = usable.reduce((sum, s) => sum + s.at, 0) / n;
  const meanY = usable.reduce((sum, s) => sum + s.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of usable) {
    num += (s.at - meanX) * (s.mb - meanY);
    den += (s.at - meanX) ** 2;
  }
  return (num / den) * 60;
}
