// What the benchmarks read of processes and files from Linux's /proc and the file system.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * User + system CPU of a process (every thread: GC, libuv's pool, workers) or of one of its threads, in
 * milliseconds. utime and stime are fields 14 and 15 of the stat file, 12 and 13 after "pid (comm) " (the
 * command may hold spaces and parentheses: split after the last ')'); in clock ticks of 1/100 s (USER_HZ).
 */
export function cpuMs(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Bytes of every file under `dir` (0 if it does not exist). */
export function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/**
 * A process's memory in KiB: RSS (what `ps` shows: shared pages counted in full by every process that maps
 * them) and PSS (shared pages split between the processes sharing them: sums over many processes are honest),
 * from /proc/PID/smaps_rollup (Linux 4.14+; PSS 0 where it cannot be read).
 */
export function memoryKiB(pid: number): { rss: number; pss: number } {
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  let pss = 0;
  try {
    pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    /* not readable here */
  }
  return { rss, pss };
}

/** The kernel's estimate of memory available for new work without swapping, in KiB (/proc/meminfo). */
export function memAvailableKiB(): number {
  return Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
}

/** The 1-minute load average (/proc/loadavg): how busy a shared machine was while a bench ran. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
