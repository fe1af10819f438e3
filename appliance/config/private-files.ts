// Every state file Warden writes is readable by its owner only (0600, directories 0700), whatever the
// umask of the shell or service manager that started the process. Two layers: the process umask, set at
// every entry point, covers files created by libraries we do not control (SQLite's -wal/-shm, SoftHSM's
// token objects); explicit modes on the files we create hold even where a caller forgot the umask.
//
// One exception, the appliance image: its daemons run as three users that share the store, the token and
// the recordings through the group `warden`, and the state directories are setgid with that group
// (os-overlay/usr/lib/tmpfiles.d/warden.conf). Inside such a directory — and only there — private files are
// 0640 (0660 for those every daemon writes: the database, the anchor, the token), directories 2770 and the
// umask 0007: the group, never others. Anywhere else (development, tests) nothing changes.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { syncDirectory } from './replace-file.js';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
/** The modes of private files and directories inside a directory shared with the daemons' group. */
export const SHARED_FILE_MODE = 0o640;
export const SHARED_WRITABLE_FILE_MODE = 0o660;
export const SHARED_DIR_MODE = 0o2770;

/**
 * The group the appliance's daemons share their state through (os-overlay/usr/lib/sysusers.d/warden.conf).
 * WARDEN_GROUP names another group: tests, which must not create system groups on the machine they run on.
 */
function sharedGroupName(): string {
  return process.env.WARDEN_GROUP || 'warden';
}

/** Gids found so far: every private file written asks, and /etc/group does not change under a daemon. */
const knownGroups = new Map<string, number>();

/**
 * The gid of a group by name from /etc/group (Node has no getgrnam); undefined if there is none (not
 * remembered: a group made later is found).
 */
function groupId(name: string): number | undefined {
  const known = knownGroups.get(name);
  if (known !== undefined) return known;
  let text: string;
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) {
      knownGroups.set(name, Number(gid));
      return Number(gid);
    }
  }
  return undefined;
}

/** Is `dir` shared with the daemons' group: a setgid directory whose group is that group? */
export function isSharedDir(dir: string): boolean {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return false;
  }
  if (!st.isDirectory() || (st.mode & 0o2000) === 0) return false;
  const gid = groupId(sharedGroupName());
  return gid !== undefined && st.gid === gid;
}

/**
 * The mode of a private file created in `dir`: 0600, or in a shared directory 0640 — 0660 with `write`
 * for files several daemons write (the database and its -wal/-shm, the audit anchor, token objects).
 */
export function privateFileMode(dir: string, options: { write?: boolean } = {}): number {
  if (!isSharedDir(dir)) return PRIVATE_FILE_MODE;
  return options.write ? SHARED_WRITABLE_FILE_MODE : SHARED_FILE_MODE;
}

/**
 * The umask for this process and everything it starts; call first thing in an entry point. Owner-only,
 * or group too when the state directory (`home`, default $WARDEN_HOME or /var/lib/warden) is shared.
 */
export function restrictUmask(home: string = process.env.WARDEN_HOME ?? '/var/lib/warden'): void {
  process.umask(isSharedDir(home) ? 0o007 : 0o077);
}

/** chmod an open file unless it has the mode already (a file another daemon created is not ours to chmod). */
function setMode(fd: number, mode: number): void {
  if ((fstatSync(fd).mode & 0o7777) !== mode) fchmodSync(fd, mode);
}

/**
 * Create `dir` (and missing parents) owner-only — or, inside a shared directory, 2770 (setgid: what is
 * created inside keeps the group). Existing directories are left as they are.
 */
export function makePrivateDir(dir: string): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let d = target; !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    const shared = isSharedDir(path.dirname(d));
    try {
      // The kernel adds the setgid bit of a setgid parent itself; asking for it would be refused in the
      // daemons' sandbox (RestrictSUIDSGID=yes filters modes with S_ISGID), so it is never in the mode.
      mkdirSync(d, { mode: shared ? 0o770 : PRIVATE_DIR_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process made it meanwhile
      throw e;
    }
    // Only where a umask took the group's bits away (never in the units, which run with UMask=0007).
    if (shared && (statSync(d).mode & 0o7777) !== SHARED_DIR_MODE) chmodSync(d, SHARED_DIR_MODE);
  }
}

/**
 * Write `data` to `file` as 0600 (0640 in a shared directory). The mode given to open() is masked by the
 * umask and ignored for an existing file, so it is set again on the open descriptor. `exclusive` refuses
 * an existing file.
 */
export function writePrivateFile(file: string, data: string | Buffer, options: { exclusive?: boolean } = {}): void {
  makePrivateDir(path.dirname(file));
  const mode = privateFileMode(path.dirname(file));
  const fd = openSync(file, options.exclusive ? 'wx' : 'w', mode);
  try {
    setMode(fd, mode);
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
  syncDirectory(path.dirname(file));
  return true;
}

/**
 * Create `file` empty if missing, and make it 0600 either way (a file from before this rule is fixed too).
 * In a shared directory 0660: the files made this way (the database, a backup's snapshot) are written by
 * every daemon.
 */
export function ensurePrivateFile(file: string): void {
  makePrivateDir(path.dirname(file));
  const mode = privateFileMode(path.dirname(file), { write: true });
  const fd = openSync(file, 'a', mode);
  try {
    setMode(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Make an existing file 0600 (in a shared directory 0640, 0660 with `write`); a missing one is not an
 * error, nor is one that has the mode already.
 */
export function restrictExistingFile(file: string, options: { write?: boolean } = {}): void {
  const mode = privateFileMode(path.dirname(file), options);
  try {
    if ((statSync(file).mode & 0o7777) !== mode) chmodSync(file, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
