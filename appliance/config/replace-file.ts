// Replacing a file all at once, for every writer of files other programs read while we write them (the web
// daemon its certificate, systemd-networkd its .network file, login /etc/shadow): written and synced under a
// temporary name beside it, renamed over it, the directory synced. A reader sees the old file or the new one,
// never half of either; a crash leaves one of the two.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';

export interface ReplaceFileOptions {
  /** The new file's mode when none of `like` exists. */
  mode: number;
  /**
   * Files whose mode and owner the new one takes, the first that exists (usually the file replaced: a
   * daemon reading it runs as its own user). None given or none existing: `mode`, owned by the caller.
   */
  like?: string[];
  /** Take the owner of `like` only when running as root; otherwise a chown this process may not make is an error. */
  ownerOnlyAsRoot?: boolean;
}

function statOptional(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** fsync a directory, so a rename or link made in it survives a crash. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace (or create) `file` with `data`; its directory must exist. */
export function replaceFile(file: string, data: string | Buffer, options: ReplaceFileOptions): void {
  const dir = path.dirname(file);
  let old: Stats | undefined;
  for (const candidate of options.like ?? []) if ((old = statOptional(candidate))) break;
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  // Created owner-only: the final mode is set below, never wider than meant in between.
  const fd = openSync(temp, 'wx', 0o600);
  try {
    try {
      if (old && (!options.ownerOnlyAsRoot || process.getuid?.() === 0)) fchownSync(fd, old.uid, old.gid);
      fchmodSync(fd, old ? old.mode & 0o7777 : options.mode);
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (e) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed
    }
    throw e;
  }
  syncDirectory(dir);
}
