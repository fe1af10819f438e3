// The key service: a logged-in session on the PKCS#11 token and the master key on it. Data keys are
// random AES-256-GCM keys generated per record and wrapped (encrypted) by the master key *on the token*;
// the master key never exists in this process after import. Any token failure throws: nothing falls back.
// Wrapping and unwrapping data keys run on a small pool of token sessions through pkcs11js' asynchronous
// calls (libuv worker threads), so a busy token never stalls the event loop.
import { randomBytes, createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KeysError } from '../errors/index.js';
import { CKR, acquireModule, findSlotByLabel, moduleLoaded, pkcs11Code, pkcs11js, releaseModule } from './pkcs11-module.js';
import { shareTokenFiles } from './softhsm.js';

export const MASTER_KEY_LABEL = 'warden-master-v1';
const MASTER_LABEL_PREFIX = 'warden-master-v';
/** The HMAC key that keys the audit chain: generated on the token, its value never readable. */
export const AUDIT_KEY_LABEL = 'warden-audit-v1';
// RFC 5649 key wrap: the only way the audit key leaves the token, encrypted under the master key, for backups.
const AUDIT_KEY_WRAP: pkcs11js.Mechanism = { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD };
const AUDIT_KEY_TEMPLATE = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  // Extractable only so that it can be wrapped under the master key for the encrypted backup; CKA_SENSITIVE
  // keeps its plain value unreadable.
  { type: pkcs11js.CKA_EXTRACTABLE, value: true },
  { type: pkcs11js.CKA_SIGN, value: true },
  { type: pkcs11js.CKA_VERIFY, value: true },
  { type: pkcs11js.CKA_LABEL, value: AUDIT_KEY_LABEL },
  // Last: SoftHSM applies an unwrap template in order, and refuses attributes set after CKA_MODIFIABLE=false.
  { type: pkcs11js.CKA_MODIFIABLE, value: false },
];

/** The version in a master key label ("warden-master-v3" → 3), or 0 for another label. */
function labelVersion(label: string): number {
  const m = /^warden-master-v(\d{1,6})$/.exec(label);
  return m ? Number(m[1]) : 0;
}
const ENVELOPE_VERSION = 1;
const WRAP_AAD = Buffer.from('warden/data-key/v1');
const IV_LEN = 12;
const TAG_LEN = 16;
const DATA_KEY_LEN = 32;
const WRAPPED_LEN = IV_LEN + DATA_KEY_LEN + TAG_LEN;

export interface KeyServiceOptions {
  module: string;
  tokenLabel: string;
  /** The user PIN, or a file holding it (first line). */
  pin?: string;
  pinFile?: string;
  softhsmConf?: string | undefined;
  /** Token sessions for the asynchronous calls, each used by one operation at a time (default 4). */
  poolSize?: number;
}

const DEFAULT_POOL_SIZE = 4;
const RELOGIN_PAUSE_MS = 5000;

/** One pooled token session; `generation` tells whether it predates the last re-login. */
interface PooledSession {
  handle: Buffer | undefined;
  generation: number;
}

export interface KeyStatus {
  module: string;
  tokenLabel: string;
  tokenSerial: string;
  masterKeyPresent: boolean;
}

function readPin(opts: KeyServiceOptions): string {
  if (opts.pin !== undefined) return opts.pin;
  if (!opts.pinFile) throw new KeysError('KEYS_PIN_INCORRECT', 'no token PIN configured');
  try {
    return readFileSync(opts.pinFile, 'utf8').split('\n')[0]!.trim();
  } catch {
    throw new KeysError('KEYS_PIN_INCORRECT', `token PIN file ${opts.pinFile} cannot be read`);
  }
}

function tokenFailure(e: unknown, what: string): KeysError {
  if (e instanceof KeysError) return e;
  const code = pkcs11Code(e);
  if (code === CKR.PIN_INCORRECT || code === CKR.PIN_LEN_RANGE) return new KeysError('KEYS_PIN_INCORRECT', 'the token refused the PIN', e);
  if (code === CKR.PIN_LOCKED) return new KeysError('KEYS_PIN_LOCKED', 'the token PIN is locked', e);
  if (code === CKR.TOKEN_NOT_PRESENT || code === CKR.DEVICE_REMOVED) return new KeysError('KEYS_TOKEN_MISSING', 'the token is not present', e);
  return new KeysError('KEYS_UNAVAILABLE', `token operation failed (${what})`, e);
}

/** Opens of a missing token before it is declared missing (see KeyService.open), and the pause before the next (times the attempt). */
export const TOKEN_OPEN_ATTEMPTS = 4;
export const TOKEN_RETRY_MS = 150;

export class KeyService {
  private lib: pkcs11js.PKCS11 | undefined;
  private slot: Buffer | undefined;
  /** The session for management and the synchronous audit HMAC; never handed to the pool. */
  private session: Buffer | undefined;
  private masterKey: Buffer | undefined;
  private nextKey: Buffer | undefined;
  private auditKey: Buffer | undefined;
  private readonly pool: PooledSession[] = [];
  private readonly idle: PooledSession[] = [];
  private readonly waiters: { resolve: (s: PooledSession) => void; reject: (e: unknown) => void }[] = [];
  /** Bumped at every re-login: pooled sessions (and key handles) from before are reopened before use. */
  private generation = 0;
  private inFlight = 0;
  private closing = false;
  /** The last failed re-login: repeated at once rather than retried, so a wrong PIN cannot lock the token. */
  private failedLogin: { error: unknown; at: number } | undefined;

  private constructor(private readonly opts: KeyServiceOptions) {}

  /**
   * Open a session and log in. Fails with KEYS_* if the module, token or PIN is wrong.
   * SoftHSM reads a token's files when the module initializes, and a token another process is writing at that
   * moment (a login updates its state file) fails SoftHSM's integrity check and is left out of that
   * initialization as if absent ("Token integrity check failed"): seen when orbit restarts the daemons while it
   * still uses the token. Such a token is whole again a moment later, so a missing token is looked for again —
   * the module initialized anew — a few times before the open fails. (Only when this process had not loaded the
   * module already: otherwise no new initialization would read the files again.)
   */
  static open(opts: KeyServiceOptions): KeyService {
    for (let attempt = 1; ; attempt++) {
      const fresh = !moduleLoaded();
      try {
        return KeyService.openOnce(opts);
      } catch (e) {
        if (!(e instanceof KeysError && e.code === 'KEYS_TOKEN_MISSING') || !fresh || attempt >= TOKEN_OPEN_ATTEMPTS) throw e;
        // Synchronous, like the open itself: a daemon starting, orbit at a command's start.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TOKEN_RETRY_MS * attempt);
      }
    }
  }

  private static openOnce(opts: KeyServiceOptions): KeyService {
    const size = opts.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new KeysError('KEYS_UNAVAILABLE', 'the token session pool holds 1 to 64 sessions');
    const svc = new KeyService(opts);
    svc.lib = acquireModule(opts.module, opts.softhsmConf);
    try {
      svc.login();
      for (let i = 0; i < size; i++) {
        const pooled: PooledSession = { handle: undefined, generation: svc.generation };
        svc.pool.push(pooled);
        svc.idle.push(pooled);
      }
    } catch (e) {
      svc.close();
      throw e;
    }
    return svc;
  }

  private login(): void {
    const lib = this.requireLib();
    let slot: Buffer | undefined;
    try {
      slot = findSlotByLabel(lib, this.opts.tokenLabel);
    } catch (e) {
      throw tokenFailure(e, 'slot list');
    }
    if (!slot) throw new KeysError('KEYS_TOKEN_MISSING', `no token labelled "${this.opts.tokenLabel}"`);
    this.slot = slot;
    const pin = readPin(this.opts);
    let session: Buffer;
    try {
      session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    } catch (e) {
      throw tokenFailure(e, 'open session');
    }
    try {
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, pin);
      } catch (e) {
        if (pkcs11Code(e) !== CKR.USER_ALREADY_LOGGED_IN) throw e;
        // PKCS#11 login state is per process: another service here logged in already. Log out and in
        // again so *this* PIN is checked (the others re-login on their next operation). The pool's sessions
        // share this login: sessions of one application on one token are logged in together.
        lib.C_Logout(session);
        lib.C_Login(session, pkcs11js.CKU_USER, pin);
      }
    } catch (e) {
      lib.C_CloseSession(session);
      throw tokenFailure(e, 'login');
    }
    this.session = session;
    this.masterKey = this.findMasterKey();
    this.auditKey = this.secretKeys().find((k) => k.label === AUDIT_KEY_LABEL)?.handle;
  }

  private requireLib(): pkcs11js.PKCS11 {
    if (!this.lib) throw new KeysError('KEYS_UNAVAILABLE', 'the key service is closed');
    return this.lib;
  }

  /**
   * The master key is the secret key with the highest "warden-master-vN" label: a rotation imports v(N+1)
   * beside vN and destroys vN once every envelope is re-wrapped, so a daemon whose handle died with vN
   * finds v(N+1) when it logs in again.
   */
  private findMasterKey(): Buffer | undefined {
    const found = this.masterKeys();
    return found.length === 0 ? undefined : found[found.length - 1]!.handle;
  }

  private masterKeys(): { handle: Buffer; label: string; version: number }[] {
    return this.secretKeys()
      .map((k) => ({ ...k, version: labelVersion(k.label) }))
      .filter((k) => k.label.startsWith(MASTER_LABEL_PREFIX) && k.version > 0)
      .sort((a, b) => a.version - b.version);
  }

  private secretKeys(): { handle: Buffer; label: string }[] {
    const lib = this.requireLib();
    const session = this.session!;
    lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY }]);
    let handles: Buffer[];
    try {
      handles = lib.C_FindObjects(session, 1000);
    } finally {
      lib.C_FindObjectsFinal(session);
    }
    return handles.map((handle) => ({ handle, label: String(lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_LABEL }])[0]!.value ?? '') }));
  }

  /**
   * Run a token operation on the management session; if the token dropped our session or handles (C_Logout
   * elsewhere, token re-insertion), log in again once and retry. Everything else fails closed.
   */
  private onToken<T>(what: string, fn: (lib: pkcs11js.PKCS11, session: Buffer, masterKey: Buffer) => T): T {
    for (let attempt = 0; ; attempt++) {
      const lib = this.requireLib();
      // After a failed re-login (token gone, PIN changed) the next call logs in first (or, within the pause,
      // fails with the same error): a lost session is never skipped, nor a reason to leave the daemon dead.
      if (!this.session) this.relogin(this.generation);
      if (!this.masterKey) throw new KeysError('KEYS_MASTER_KEY_MISSING', 'the token has no master key');
      const generation = this.generation;
      try {
        return fn(lib, this.session!, this.masterKey);
      } catch (e) {
        if (isStale(e) && attempt === 0) {
          this.relogin(generation);
          continue;
        }
        throw operationFailure(e, what);
      }
    }
  }

  /**
   * The same on a pooled session, with the token call itself off the event loop: `fn` awaits one of
   * pkcs11js' *Async calls. Waits for a free session when all are busy.
   */
  private async onPooledToken<T>(what: string, fn: (lib: pkcs11js.PKCS11, session: Buffer, masterKey: Buffer) => Promise<T>): Promise<T> {
    const pooled = await this.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        const lib = this.requireLib();
        if (!this.session) this.relogin(this.generation);
        if (!this.masterKey) throw new KeysError('KEYS_MASTER_KEY_MISSING', 'the token has no master key');
        const generation = this.generation;
        try {
          return await fn(lib, this.pooledHandle(pooled), this.masterKey);
        } catch (e) {
          if (isStale(e) && attempt === 0) {
            this.relogin(generation);
            continue;
          }
          throw operationFailure(e, what);
        }
      }
    } finally {
      this.release(pooled);
    }
  }

  /**
   * Log in again after a stale session or handle, unless another operation already did since `seen`:
   * many pooled operations fail together when the login goes, and one re-login serves them all.
   */
  private relogin(seen: number): void {
    if (seen !== this.generation) return;
    // Tokens lock the PIN after a few wrong tries: a PIN refused a moment ago is not offered again by every
    // waiting operation; they fail with the same error until the pause is over.
    if (this.failedLogin && Date.now() - this.failedLogin.at < RELOGIN_PAUSE_MS) throw this.failedLogin.error;
    this.generation++;
    this.dropSession();
    try {
      this.login();
      this.failedLogin = undefined;
    } catch (e) {
      this.failedLogin = { error: e, at: Date.now() };
      throw e;
    }
  }

  /** How the session pool is used right now (tests, `orbit status`). */
  poolStatus(): { size: number; busy: number; waiting: number } {
    return { size: this.pool.length, busy: this.pool.length - this.idle.length, waiting: this.waiters.length };
  }

  /** The pooled session's handle, reopened if it predates the last re-login (login state is shared). */
  private pooledHandle(pooled: PooledSession): Buffer {
    if (pooled.handle && pooled.generation === this.generation) return pooled.handle;
    const lib = this.requireLib();
    if (pooled.handle) closeQuietly(lib, pooled.handle);
    pooled.handle = undefined;
    try {
      pooled.handle = lib.C_OpenSession(this.slot!, pkcs11js.CKF_SERIAL_SESSION);
    } catch (e) {
      throw tokenFailure(e, 'open session');
    }
    pooled.generation = this.generation;
    return pooled.handle;
  }

  private acquire(): Promise<PooledSession> {
    if (this.closing || !this.lib) return Promise.reject(new KeysError('KEYS_UNAVAILABLE', 'the key service is closed'));
    this.inFlight++;
    const free = this.idle.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(pooled: PooledSession): void {
    this.inFlight--;
    const next = this.waiters.shift();
    if (next) {
      next.resolve(pooled);
      return;
    }
    this.idle.push(pooled);
    // close() waits for the last running token call: finalizing the module under a worker thread is unsafe.
    if (this.closing && this.inFlight === 0) this.finalize();
  }

  status(): KeyStatus {
    const lib = this.requireLib();
    const info = lib.C_GetSessionInfo(this.session!);
    const token = lib.C_GetTokenInfo(info.slotID);
    return {
      module: this.opts.module,
      tokenLabel: this.opts.tokenLabel,
      tokenSerial: token.serialNumber.trim(),
      masterKeyPresent: this.masterKey !== undefined,
    };
  }

  hasMasterKey(): boolean {
    return this.masterKey !== undefined;
  }

  /**
   * Import 32 bytes as the non-extractable, sensitive AES-256 master key. The caller owns `material`
   * and must zero it (after the Shamir split of the backup issue has taken its shares).
   */
  importMasterKey(material: Buffer): void {
    if (this.masterKey) throw new KeysError('KEYS_MASTER_KEY_EXISTS', 'the token already holds a master key');
    this.masterKey = this.createKeyObject(material, MASTER_KEY_LABEL);
  }

  private createKeyObject(material: Buffer, label: string): Buffer {
    if (material.length !== 32) throw new KeysError('KEYS_UNAVAILABLE', 'the master key must be 32 bytes');
    const lib = this.requireLib();
    try {
      const handle = lib.C_CreateObject(this.session!, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE, value: material },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_MODIFIABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
        // Wraps only the audit key (AES key wrap, a mechanism the token refuses for C_Decrypt).
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_UNWRAP, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]);
      // A new object file: the other daemons' users must be able to read it (the appliance's shared token).
      shareTokenFiles(this.opts.softhsmConf);
      return handle;
    } catch (e) {
      throw tokenFailure(e, 'import master key');
    }
  }

  /**
   * Rotation, step 1: import the next master key (non-extractable) beside the current one. Envelopes are
   * then re-wrapped with `rewrap`, and `finishRotation` destroys the old key (or `abortRotation` the new).
   */
  beginRotation(material: Buffer): { from: string; to: string } {
    const keys = this.masterKeys();
    const current = keys[keys.length - 1];
    if (!current || !this.masterKey) throw new KeysError('KEYS_MASTER_KEY_MISSING', 'the token has no master key to rotate');
    if (this.nextKey) throw new KeysError('KEYS_UNAVAILABLE', 'a rotation is already under way');
    const to = `${MASTER_LABEL_PREFIX}${current.version + 1}`;
    this.nextKey = this.createKeyObject(material, to);
    return { from: current.label, to };
  }

  /** Re-wrap an envelope's data key from the current master key to the next one; the data is untouched. */
  async rewrap(sealed: Buffer): Promise<Buffer> {
    if (!this.nextKey) throw new KeysError('KEYS_UNAVAILABLE', 'no rotation under way');
    if (sealed.length < 1 + WRAPPED_LEN || sealed[0] !== ENVELOPE_VERSION) throw new KeysError('KEYS_DECRYPT_FAILED', 'not a sealed value of a known version');
    const dataKey = await this.unwrapDataKey(sealed.subarray(1, 1 + WRAPPED_LEN));
    try {
      const iv = randomBytes(IV_LEN);
      const wrapped = await this.onPooledToken('re-wrap data key', async (lib, session) => {
        const next = this.nextKey;
        if (!next) throw new KeysError('KEYS_UNAVAILABLE', 'no rotation under way');
        lib.C_EncryptInit(session, this.gcm(iv, WRAP_AAD), next);
        return Buffer.concat([iv, await lib.C_EncryptAsync(session, dataKey, Buffer.alloc(DATA_KEY_LEN + TAG_LEN + 16))]);
      });
      return Buffer.concat([sealed.subarray(0, 1), wrapped, sealed.subarray(1 + WRAPPED_LEN)]);
    } finally {
      dataKey.fill(0);
    }
  }

  /** Rotation, last step: destroy the old master key; the next one becomes the master key. */
  finishRotation(): void {
    const next = this.nextKey;
    if (!next || !this.masterKey) throw new KeysError('KEYS_UNAVAILABLE', 'no rotation under way');
    const old = this.masterKey;
    this.onToken('destroy old master key', (lib, session) => lib.C_DestroyObject(session, old));
    this.masterKey = next;
    this.nextKey = undefined;
  }

  /** Rotation failed before the data moved: destroy the half-born next key. */
  abortRotation(): void {
    const next = this.nextKey;
    this.nextKey = undefined;
    if (next) {
      try {
        this.requireLib().C_DestroyObject(this.session!, next);
      } catch {
        /* it never became the master key: nothing depends on it */
      }
    }
  }

  /** Is the master key's value readable by us? It must never be: used by tests and `orbit status`. */
  masterKeyIsExtractable(): boolean {
    return this.onToken('read attributes', (lib, session, key) => {
      const attrs = lib.C_GetAttributeValue(session, key, [
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
      ]);
      const extractable = attrs[0]!.value as Buffer;
      const sensitive = attrs[1]!.value as Buffer;
      return extractable[0] !== 0 || sensitive[0] === 0;
    });
  }

  hasAuditKey(): boolean {
    return this.auditKey !== undefined;
  }

  /** Generate the audit chain's HMAC key on the token (at `orbit init`). */
  createAuditKey(): void {
    if (this.auditKey) throw new KeysError('KEYS_AUDIT_KEY_EXISTS', 'the token already holds an audit key');
    try {
      this.auditKey = this.requireLib().C_GenerateKey(this.session!, { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN }, [
        ...AUDIT_KEY_TEMPLATE,
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
      ]);
      shareTokenFiles(this.opts.softhsmConf);
    } catch (e) {
      throw tokenFailure(e, 'generate audit key');
    }
  }

  /**
   * The audit key wrapped under the master key — or, during a rotation, under the next master key — for the
   * database copy that lets a backup be restored onto a new token. Never the plain value.
   */
  wrappedAuditKey(): Buffer {
    return this.onToken('wrap audit key', (lib, session, master) => lib.C_WrapKey(session, AUDIT_KEY_WRAP, this.nextKey ?? master, this.requireAuditKey(), Buffer.alloc(128)));
  }

  /** Restore: put the audit key of a backup (wrapped under the master key just imported) onto this token. */
  installAuditKey(wrapped: Buffer): void {
    if (this.auditKey) throw new KeysError('KEYS_AUDIT_KEY_EXISTS', 'the token already holds an audit key');
    this.auditKey = this.onToken('unwrap audit key', (lib, session, master) => lib.C_UnwrapKey(session, AUDIT_KEY_WRAP, master, wrapped, AUDIT_KEY_TEMPLATE));
    shareTokenFiles(this.opts.softhsmConf);
  }

  /**
   * HMAC-SHA256 on the token under the audit key. Deliberately synchronous, on the management session: the
   * audit row is linked inside the transaction of the change it records, and an await there would hold the
   * write transaction open while the pool's queue drains. One HMAC of a few hundred bytes costs
   * microseconds on the token, not a stall of the event loop.
   */
  auditMac(data: Buffer): Buffer {
    return this.onToken('audit mac', (lib, session) => {
      lib.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_HMAC }, this.requireAuditKey());
      return lib.C_Sign(session, data, Buffer.alloc(32));
    });
  }

  private requireAuditKey(): Buffer {
    if (!this.auditKey) throw new KeysError('KEYS_AUDIT_KEY_MISSING', 'the token has no audit key');
    return this.auditKey;
  }

  private gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
    return {
      mechanism: pkcs11js.CKM_AES_GCM,
      parameter: { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad, ivBits: IV_LEN * 8, tagBits: TAG_LEN * 8 } as pkcs11js.AesGCM,
    };
  }

  /** Encrypt a data key under the master key, on the token: iv ‖ ciphertext ‖ tag. */
  async wrapDataKey(dataKey: Buffer): Promise<Buffer> {
    const iv = randomBytes(IV_LEN);
    return this.onPooledToken('wrap data key', async (lib, session, key) => {
      lib.C_EncryptInit(session, this.gcm(iv, WRAP_AAD), key);
      const out = await lib.C_EncryptAsync(session, dataKey, Buffer.alloc(DATA_KEY_LEN + TAG_LEN + 16));
      return Buffer.concat([iv, out]);
    });
  }

  async unwrapDataKey(wrapped: Buffer): Promise<Buffer> {
    if (wrapped.length !== WRAPPED_LEN) throw new KeysError('KEYS_DECRYPT_FAILED', 'wrapped data key has the wrong length');
    const iv = wrapped.subarray(0, IV_LEN);
    const attempt = () =>
      this.onPooledToken('unwrap data key', async (lib, session, key) => {
        lib.C_DecryptInit(session, this.gcm(iv, WRAP_AAD), key);
        return lib.C_DecryptAsync(session, wrapped.subarray(IV_LEN), Buffer.alloc(DATA_KEY_LEN + TAG_LEN));
      });
    try {
      return await attempt();
    } catch (e) {
      // Another process may have rotated the master key (orbit backup keys): if the token now holds a
      // newer one, switch to it and try once more. Anything else stays a failure.
      if (!(e instanceof KeysError) || e.code !== 'KEYS_DECRYPT_FAILED' || this.nextKey || !this.adoptNewestMasterKey()) throw e;
      return attempt();
    }
  }

  /** Switch to the newest master key on the token if it is not the one in use; true if switched. */
  private adoptNewestMasterKey(): boolean {
    const newest = this.findMasterKey();
    if (!newest || (this.masterKey && newest.equals(this.masterKey))) return false;
    this.masterKey = newest;
    return true;
  }

  /**
   * Envelope-encrypt `plaintext` with a fresh data key. `context` names the record (e.g. "credential:42")
   * and is authenticated, so a ciphertext moved to another record fails to open.
   * Layout: version(1) ‖ wrapped data key(60) ‖ iv(12) ‖ tag(16) ‖ ciphertext.
   */
  async seal(plaintext: Buffer, context: string): Promise<Buffer> {
    const dataKey = randomBytes(DATA_KEY_LEN);
    try {
      const wrapped = await this.wrapDataKey(dataKey);
      const iv = randomBytes(IV_LEN);
      const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([ENVELOPE_VERSION]), wrapped, iv, cipher.getAuthTag(), ct]);
    } finally {
      dataKey.fill(0);
    }
  }

  async open(sealed: Buffer, context: string): Promise<Buffer> {
    const head = 1 + WRAPPED_LEN + IV_LEN + TAG_LEN;
    if (sealed.length < head || sealed[0] !== ENVELOPE_VERSION) throw new KeysError('KEYS_DECRYPT_FAILED', 'not a sealed value of a known version');
    const dataKey = await this.unwrapDataKey(sealed.subarray(1, 1 + WRAPPED_LEN));
    try {
      const iv = sealed.subarray(1 + WRAPPED_LEN, 1 + WRAPPED_LEN + IV_LEN);
      const tag = sealed.subarray(1 + WRAPPED_LEN + IV_LEN, head);
      const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(sealed.subarray(head)), decipher.final()]);
      } catch (e) {
        throw new KeysError('KEYS_DECRYPT_FAILED', 'sealed value failed authentication (tampered or wrong context)', e);
      }
    } finally {
      dataKey.fill(0);
    }
  }

  private dropSession(): void {
    // The session may already be gone; that is why we are dropping it.
    if (this.lib && this.session) closeQuietly(this.lib, this.session);
    this.session = undefined;
    this.masterKey = undefined;
    this.auditKey = undefined;
  }

  /**
   * Log out and let the module go. Operations waiting for a session fail with KEYS_UNAVAILABLE; token calls
   * already running on worker threads finish first, then the module is finalized.
   */
  close(): void {
    if (!this.lib || this.closing) return;
    this.closing = true;
    for (const w of this.waiters.splice(0)) {
      this.inFlight--;
      w.reject(new KeysError('KEYS_UNAVAILABLE', 'the key service is closed'));
    }
    if (this.inFlight === 0) this.finalize();
  }

  private finalize(): void {
    const lib = this.lib;
    if (!lib) return;
    if (this.session) {
      try {
        lib.C_Logout(this.session);
      } catch {
        /* already logged out or token gone */
      }
    }
    for (const pooled of this.pool) if (pooled.handle) closeQuietly(lib, pooled.handle);
    this.pool.length = 0;
    this.idle.length = 0;
    this.dropSession();
    releaseModule(lib);
    this.lib = undefined;
  }
}

function closeQuietly(lib: pkcs11js.PKCS11, session: Buffer): void {
  try {
    lib.C_CloseSession(session);
  } catch {
    /* already closed, or the token is gone */
  }
}

/** The token dropped our login, session or key handles: worth one re-login. */
function isStale(e: unknown): boolean {
  const code = pkcs11Code(e);
  return code === CKR.SESSION_HANDLE_INVALID || code === CKR.OBJECT_HANDLE_INVALID || code === CKR.KEY_HANDLE_INVALID || code === CKR.USER_NOT_LOGGED_IN;
}

function operationFailure(e: unknown, what: string): KeysError {
  if (e instanceof KeysError) return e;
  const code = pkcs11Code(e);
  if (code === CKR.GENERAL_ERROR || code === CKR.ENCRYPTED_DATA_INVALID) {
    return new KeysError('KEYS_DECRYPT_FAILED', `${what}: the token rejected the data (wrong key or tampered)`, e);
  }
  return tokenFailure(e, what);
}
