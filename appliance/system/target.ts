// Where OS settings are written and whether the running system is told: the image writes under '/' and
// reloads the services; tests and image builds write under another root and reload nothing. Both take the
// same path through the code, so what the tests see is what the appliance does.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, unlinkSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { WardenError } from '../errors/index.js';
import { replaceFile, syncDirectory } from '../config/index.js';

export interface SystemTarget {
  /** The file-system root the settings are written under ('/' on the appliance). */
  root: string;
  /** Reload the services that read what was written (only on the running appliance). */
  live: boolean;
}

/** `--root DIR` → that directory, nothing reloaded; no root → the running machine, live. */
export function systemTarget(opts: { root?: string | undefined }): SystemTarget {
  if (opts.root === undefined || opts.root === '') return { root: '/', live: true };
  return { root: path.resolve(opts.root), live: false };
}

/** An absolute OS path ('/etc/hostname') under the target's root. */
export function under(t: SystemTarget, osPath: string): string {
  return path.join(t.root, osPath);
}

/** The text of a file under the root, or undefined when it does not exist. */
export function readOptional(t: SystemTarget, osPath: string): string | undefined {
  try {
    return readFileSync(under(t, osPath), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

export function readLinkOptional(t: SystemTarget, osPath: string): string | undefined {
  try {
    return readlinkSync(under(t, osPath));
  } catch (e) {
    if (['ENOENT', 'EINVAL', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw e;
  }
}

/** The directory and its missing parents as 0755: the system services read these as their own users. */
function ensureDir(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      statSync(d);
      break;
    } catch {
      missing.unshift(d);
      if (path.dirname(d) === d) break;
    }
  }
  for (const d of missing) {
    mkdirSync(d, { recursive: true });
    // orbit runs with a restrictive umask (its own state is secret); these directories are not.
    chmodSync(d, 0o755);
  }
}

/** One file of a change: its OS path and content (a symlink when `linkTo` is set). */
export type PlannedFile = { path: string; content: string; mode?: number } | { path: string; linkTo: string };

/**
 * Write every planned file atomically: each is written and synced under a temporary name beside it, then
 * renamed over the old one, so the services never read half a file. Readable by all (0644): systemd-networkd,
 * -resolved and -timesyncd read their files as their own users.
 */
export function writePlanned(t: SystemTarget, files: PlannedFile[]): void {
  for (const f of files) {
    const target = under(t, f.path);
    const dir = path.dirname(target);
    ensureDir(dir);
    if ('linkTo' in f) {
      // A symlink has no content to sync: made under a temporary name, renamed over the old one.
      const temp = path.join(dir, `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
      symlinkSync(f.linkTo, temp);
      try {
        renameSync(temp, target);
      } catch (e) {
        unlinkSync(temp);
        throw e;
      }
      syncDirectory(dir);
    } else {
      replaceFile(target, f.content, { mode: f.mode ?? 0o644 });
    }
  }
}

/** Run a system tool; a failure becomes one clear line naming the command and what it said. */
export function runTool(command: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: opts.timeoutMs ?? 30_000, encoding: 'utf8', env: { ...process.env, SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0', LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const said = (stderr || stdout || error.message).trim().split('\n').filter(Boolean).join('; ');
      reject(new WardenError('INTERNAL', `${command} ${args.join(' ')} failed: ${said}`, { cause: error }));
    });
  });
}

/** Reload steps after a change; only on a live target, and reported as one error naming what was written. */
export async function reload(t: SystemTarget, what: string, steps: [string, string[]][]): Promise<void> {
  if (!t.live) return;
  for (const [cmd, args] of steps) {
    try {
      await runTool(cmd, args);
    } catch (e) {
      throw new WardenError('INTERNAL', `${what} was written, but the running system did not take it: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** How a caller (orbit) wraps the file writes of a change, e.g. in the audit transaction that records it. */
export type ApplyWith = <T>(write: () => Promise<T>) => Promise<T>;

export interface ChangeOptions {
  /** Runs the writes; absent: they simply run. Validation has passed before it is called. */
  applyWith?: ApplyWith;
}

export async function apply(t: SystemTarget, files: PlannedFile[], opts: ChangeOptions | undefined): Promise<void> {
  const write = async () => writePlanned(t, files);
  await (opts?.applyWith ? opts.applyWith(write) : write());
}
