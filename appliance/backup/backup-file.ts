// Encrypted backups: a consistent snapshot of the database, gzip'd and encrypted with AES-256-GCM under a
// fresh data key that the token's master key wraps. Restoring needs that master key — rebuilt from k
// custodian shares on a fresh appliance — so a backup file alone is useless to whoever takes it.
// The session recordings follow the database as they are on disk: already encrypted, under data keys that
// the database (inside the encrypted part) holds wrapped; the authenticated header lists each one's name,
// length and SHA-256, so a recording altered, cut or left out of the backup fails the restore.
import { randomBytes, createCipheriv, createDecipheriv, randomUUID, createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, readFileSync, readSync, rmSync, renameSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { gzipSync, gunzipSync } from 'node:zlib';
import path from 'node:path';
import type { Store } from '../store/index.js';
import { AuditAnchor, AuditTrail, tokenChainKey } from '../audit/index.js';
import { KeyService, SOFTHSM_MODULE, initSoftHsmToken, installAuditKeyFromStore, writeSoftHsmConfig, verifyKeyCheck } from '../keys/index.js';
import { Store as StoreClass } from '../store/index.js';
import { buildConfig, ensurePrivateFile, makePrivateDir, writePrivateFile, type Argon2Cost } from '../config/index.js';
import { createSelfSignedTlsCertificate } from '../pki/index.js';
import { InputError, WardenError, isWardenError } from '../errors/index.js';
import { combineShares } from './key-shares.js';

const MAGIC_V1 = Buffer.from('WARDEN BACKUP v1\n');
// v2: the database part is `bytes` long and the recordings follow it (v1 had no recordings).
const MAGIC = Buffer.from('WARDEN BACKUP v2\n');
const RECORDING_FILE = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}\.wrec$/;
const MAX_HEADER = 64 * 1024 * 1024;

interface BackupRecording {
  file: string;
  bytes: number;
  sha256: string;
}

interface BackupHeader {
  applianceId: string;
  createdAt: string;
  wrappedKey: string;
  iv: string;
  tag: string;
  bytes: number;
  recordings?: BackupRecording[];
}

/**
 * The recordings of the rows in the database, each up to its length now: the files are append-only, so that
 * prefix is stable while the session goes on (the rest is in the next backup). Listed after the snapshot,
 * so every row in it has its file (a file started since has no row and restores as an unused file).
 */
async function recordingsToBackUp(store: Store, dir: string): Promise<BackupRecording[]> {
  const out: BackupRecording[] = [];
  for (const file of await store.repos.recordings.files()) {
    if (!RECORDING_FILE.test(file)) continue;
    const full = path.join(dir, file);
    let bytes: number;
    try {
      bytes = statSync(full).size;
    } catch {
      continue; // a row whose file is gone: verification of that recording says so; the backup goes on
    }
    const hash = createHash('sha256');
    if (bytes > 0) await pipeline(createReadStream(full, { start: 0, end: bytes - 1 }), hash);
    out.push({ file, bytes, sha256: hash.digest('hex') });
  }
  return out;
}

/** Write an encrypted backup of the database to `file` (mode 0600). Returns its size. */
export async function createBackup(
  deps: { store: Store; keys: KeyService; audit: AuditTrail; home: string; recordingsDir?: string },
  file: string,
  actor: string,
): Promise<{ bytes: number; applianceId: string; recordings: number }> {
  const recordingsDir = deps.recordingsDir ?? path.join(deps.home, 'recordings');
  const applianceId = (await deps.store.repos.meta.get('appliance.id')) ?? 'unknown';
  const snapshot = path.join(deps.home, `.backup-${randomUUID()}.db`);
  try {
    // A consistent copy while the appliance keeps running; the plaintext copy is created 0600 first rather
    // than with the engine's default mode.
    ensurePrivateFile(snapshot);
    await deps.store.snapshotTo(snapshot);
    const recordings = await recordingsToBackUp(deps.store, recordingsDir);
    const plain = gzipSync(readFileSync(snapshot));
    const dataKey = randomBytes(32);
    try {
      const header: Omit<BackupHeader, 'tag'> & { tag?: string } = {
        applianceId,
        createdAt: new Date().toISOString(),
        wrappedKey: (await deps.keys.wrapDataKey(dataKey)).toString('base64'),
        iv: randomBytes(12).toString('base64'),
        bytes: plain.length,
        recordings,
      };
      const cipher = createCipheriv('aes-256-gcm', dataKey, Buffer.from(header.iv, 'base64'));
      // The header (all but the tag) is authenticated too: a tampered header is a corrupt backup.
      cipher.setAAD(Buffer.from(JSON.stringify({ ...header, tag: undefined })));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      header.tag = cipher.getAuthTag().toString('base64');
      const out = Buffer.concat([MAGIC, Buffer.from(JSON.stringify(header) + '\n'), body]);
      const tmp = `${file}.partial`;
      writePrivateFile(tmp, out);
      let total = out.length;
      try {
        const ws = createWriteStream(tmp, { flags: 'a' });
        for (const r of recordings) {
          if (r.bytes > 0) await pipeline(createReadStream(path.join(recordingsDir, r.file), { start: 0, end: r.bytes - 1 }), ws, { end: false });
          total += r.bytes;
        }
        ws.end();
        await once(ws, 'finish');
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      renameSync(tmp, file);
      await deps.audit.record({ type: 'backup.create', outcome: 'success', actor, subject: path.basename(file), detail: { bytes: total } });
      return { bytes: total, applianceId, recordings: recordings.length };
    } finally {
      dataKey.fill(0);
    }
  } finally {
    rmSync(snapshot, { force: true });
  }
}

/** The header and the database part of a backup; `recordingsAt` is where the recordings start. */
function readBackup(file: string): { header: BackupHeader; body: Buffer; recordingsAt: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new InputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const size = statSync(file).size;
    // The header line: read in growing steps until its newline (a long list of recordings makes it long).
    let head = Buffer.alloc(0);
    let nl = -1;
    while (nl === -1) {
      if (head.length >= Math.min(size, MAX_HEADER)) throw new InputError(head.length >= MAX_HEADER ? 'the backup is corrupted (no header)' : `${file} is not a Warden backup`);
      const more = Buffer.alloc(Math.min(Math.max(head.length, 64 * 1024), size - head.length));
      const n = readSync(fd, more, 0, more.length, head.length);
      head = Buffer.concat([head, more.subarray(0, n)]);
      const magicLen = MAGIC.length;
      if (head.length >= magicLen && !head.subarray(0, magicLen).equals(MAGIC) && !head.subarray(0, magicLen).equals(MAGIC_V1)) throw new InputError(`${file} is not a Warden backup`);
      nl = head.indexOf(0x0a, magicLen);
    }
    let header: BackupHeader;
    try {
      header = JSON.parse(head.subarray(MAGIC.length, nl).toString('utf8')) as BackupHeader;
    } catch {
      throw new InputError('the backup is corrupted (unreadable header)');
    }
    for (const k of ['applianceId', 'createdAt', 'wrappedKey', 'iv', 'tag'] as const) if (typeof header[k] !== 'string') throw new InputError('the backup is corrupted (incomplete header)');
    const v1 = head.subarray(0, MAGIC.length).equals(MAGIC_V1);
    const bodyLength = v1 ? size - (nl + 1) : header.bytes;
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0 || nl + 1 + bodyLength > size) throw new InputError('the backup is corrupted (cut short)');
    const body = Buffer.alloc(bodyLength);
    if (bodyLength > 0 && readSync(fd, body, 0, bodyLength, nl + 1) !== bodyLength) throw new InputError('the backup is corrupted (cut short)');
    return { header, body, recordingsAt: nl + 1 + bodyLength };
  } finally {
    closeSync(fd);
  }
}

/**
 * Copy the recordings out of a backup into `dir`, each checked against the length and SHA-256 its
 * authenticated header gives. Called after the header authenticated (the database part decrypted).
 */
async function restoreRecordings(file: string, header: BackupHeader, at: number, dir: string): Promise<number> {
  const list = header.recordings ?? [];
  const size = statSync(file).size;
  let pos = at;
  makePrivateDir(dir);
  for (const r of list) {
    if (typeof r.file !== 'string' || !RECORDING_FILE.test(r.file) || !Number.isSafeInteger(r.bytes) || r.bytes < 0 || pos + r.bytes > size) {
      throw new InputError('the backup is corrupted (a recording is missing or cut short)');
    }
    const target = path.join(dir, r.file);
    const hash = createHash('sha256');
    if (r.bytes > 0) {
      const ws = createWriteStream(target, { flags: 'wx', mode: 0o600 });
      const source = createReadStream(file, { start: pos, end: pos + r.bytes - 1 });
      source.on('data', (c) => hash.update(c));
      await pipeline(source, ws);
    } else {
      writePrivateFile(target, Buffer.alloc(0), { exclusive: true });
    }
    if (hash.digest('hex') !== r.sha256) throw new InputError(`the backup is corrupted (recording ${r.file} does not match its checksum)`);
    pos += r.bytes;
  }
  if (pos !== size) throw new InputError('the backup is corrupted (bytes after its last recording)');
  return list.length;
}

export interface RestoreOptions {
  home: string;
  configFile: string;
  backupFile: string;
  shares: string[];
  web?: { listen?: string; httpsPort?: number; httpPort?: number; publicHost?: string };
  /** Argon2id cost of new password hashes on the restored appliance (default: the config's default). */
  argon2?: Argon2Cost;
  /** Where the audit chain head is anchored on this machine (default: see defaultAnchorFile). */
  anchorFile?: string;
  progress?: (line: string) => void;
}

/**
 * Rebuild an appliance from a backup on a fresh state directory: the master key from the shares, imported
 * non-extractable into a new token; the database decrypted; a new web certificate. On any failure —
 * too few shares, a wrong share, a corrupted backup — everything created is removed: nothing changed.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<{ applianceId: string }> {
  const say = opts.progress ?? (() => {});
  const home = path.resolve(opts.home);
  if (existsSync(opts.configFile)) throw new WardenError('CONFLICT', `${opts.configFile} exists: restore needs a fresh appliance`);
  for (const p of ['keys', 'warden.db', 'tls', 'recordings']) if (existsSync(path.join(home, p))) throw new WardenError('CONFLICT', `${path.join(home, p)} exists: restore needs a fresh appliance`);
  const { header, body, recordingsAt } = readBackup(opts.backupFile);
  say('rebuilding the master key from the shares');
  const material = await combineShares(opts.shares, header.applianceId);
  const created = ['keys', 'tls', 'recordings', 'warden.db', 'warden.db-wal', 'warden.db-shm'].map((p) => path.join(home, p));
  makePrivateDir(home);
  const raw = {
    web: { listen: opts.web?.listen ?? '0.0.0.0', httpsPort: opts.web?.httpsPort ?? 443, httpPort: opts.web?.httpPort ?? 80, publicHost: opts.web?.publicHost ?? 'localhost', tlsCert: 'tls/web.crt', tlsKey: 'tls/web.key' },
    store: { engine: 'sqlite', sqlitePath: 'warden.db' },
    keys: { module: SOFTHSM_MODULE, tokenLabel: 'warden', pinFile: 'keys/token.pin', softhsmConf: 'keys/softhsm2.conf' },
    ...(opts.argon2 ? { auth: { argon2: opts.argon2 } } : {}),
    ...(opts.anchorFile ? { audit: { anchorFile: path.resolve(opts.anchorFile) } } : {}),
    log: { level: 'info' },
  };
  const config = buildConfig(raw, home, opts.configFile);
  try {
    say('creating a new token and importing the master key (non-extractable)');
    const userPin = randomBytes(18).toString('base64url');
    const soPin = randomBytes(18).toString('base64url');
    writeSoftHsmConfig(config.keys.softhsmConf!, path.join(home, 'keys', 'tokens'));
    writePrivateFile(config.keys.pinFile, `${userPin}\n`);
    writePrivateFile(path.join(home, 'keys', 'token.so-pin'), `${soPin}\n`);
    initSoftHsmToken({ module: config.keys.module, softhsmConf: config.keys.softhsmConf!, label: config.keys.tokenLabel, soPin, userPin });
    const keys = KeyService.open({ module: config.keys.module, tokenLabel: config.keys.tokenLabel, pinFile: config.keys.pinFile, softhsmConf: config.keys.softhsmConf });
    try {
      keys.importMasterKey(material);
      material.fill(0);
      say('decrypting the backup');
      let dataKey: Buffer;
      try {
        dataKey = await keys.unwrapDataKey(Buffer.from(header.wrappedKey, 'base64'));
      } catch {
        throw new InputError('the shares do not rebuild the master key of this backup (a wrong share?)');
      }
      let plain: Buffer;
      try {
        const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(header.iv, 'base64'));
        decipher.setAAD(Buffer.from(JSON.stringify({ ...header, tag: undefined })));
        decipher.setAuthTag(Buffer.from(header.tag, 'base64'));
        plain = gunzipSync(Buffer.concat([decipher.update(body), decipher.final()]));
      } catch {
        throw new InputError('the backup is corrupted (authentication failed)');
      } finally {
        dataKey.fill(0);
      }
      writePrivateFile(config.store.sqlitePath, plain);
      if (header.recordings?.length) say(`restoring ${header.recordings.length} session recordings`);
      await restoreRecordings(opts.backupFile, header, recordingsAt, path.join(home, 'recordings'));
      const store = await StoreClass.open({ sqlitePath: config.store.sqlitePath });
      try {
        await verifyKeyCheck(store, keys);
        await installAuditKeyFromStore(store, keys);
        const audit = new AuditTrail(store, { key: tokenChainKey(() => keys), anchor: new AuditAnchor(config.audit.anchorFile, config.audit.anchorEvery), node: config.node.id });
        await audit.record({ type: 'backup.restore', outcome: 'success', actor: 'orbit', subject: path.basename(opts.backupFile), detail: { applianceId: header.applianceId, backupCreatedAt: header.createdAt } });
        // The restored chain is this machine's history from now on: its anchor starts here.
        await audit.anchorHead({ fresh: true });
      } finally {
        await store.close();
      }
    } finally {
      keys.close();
    }
    say('creating the web TLS certificate');
    const pair = await createSelfSignedTlsCertificate({ commonName: raw.web.publicHost, dnsNames: [raw.web.publicHost, 'localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 825 });
    writePrivateFile(config.web.tlsCert, pair.certPem);
    writePrivateFile(config.web.tlsKey, pair.keyPem);
    writePrivateFile(opts.configFile, JSON.stringify(raw, null, 2) + '\n', { exclusive: true });
    return { applianceId: header.applianceId };
  } catch (e) {
    material.fill(0);
    for (const p of created) rmSync(p, { recursive: true, force: true });
    if (isWardenError(e)) throw e;
    throw new WardenError('INTERNAL', `restore failed: ${(e as Error).message}`, { cause: e });
  }
}
