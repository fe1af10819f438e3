// Every state file Warden writes is readable by its owner only (0600, directories 0700), whatever the
// umask of the shell or service manager that started the process. Two layers: the process umask, set at
// every entry point, covers files created by libraries we do not control (SQLite's -wal/-shm, SoftHSM's
// token objects); explicit modes on the files we create hold even where a caller forgot the umask.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Owner-only creation for this process and everything it starts; call first thing in an entry point. */
export function restrictUmask(): void {
  process.umask(0o077);
}

/** Create `dir` (and missing parents) owner-only. Existing directories are left as they are. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Write `data` to `file` as 0600. The mode given to open() is masked by the umask and ignored for an
 * existing file, so it is set again on the open descriptor. `exclusive` refuses an existing file.
 */
export function writePrivateFile(file: string, data: string | Buffer, options: { exclusive?: boolean } = {}): void {
  makePrivateDir(path.dirname(file));
  const fd = openSync(file, options.exclusive ? 'wx' : 'w', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Create `file` with `data` (0600) only if it does not exist, all at once: readers and rivals see no file or
 * the whole of it, never an empty or half-written one (which a crash, or another process starting at the
 * same moment, would otherwise leave for them to choke on). Written and synced under a temporary name, then
 * hard-linked into place, which fails if the name exists. True if this call created it.
 */
export function publishPrivateFile(file: string, data: string | Buffer): boolean {
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writePrivateFile(temp, data, { exclusive: true });
  try {
    linkSync(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(temp);
  }
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

/** Create `file` empty if missing, and make it 0600 either way (a file from before this rule is fixed too). */
export function ensurePrivateFile(file: string): void {
  makePrivateDir(path.dirname(file));
  const fd = openSync(file, 'a', PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/** Make an existing file 0600; a missing one is not an error. */
export function restrictExistingFile(file: string): void {
  try {
    chmodSync(file, PRIVATE_FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
