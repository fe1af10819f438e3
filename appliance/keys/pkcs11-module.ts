// One PKCS#11 module per process: C_Initialize may run once, and SoftHSM reads SOFTHSM2_CONF only then.
import pkcs11js from 'pkcs11js';
import { existsSync } from 'node:fs';
import { KeysError } from '../errors/index.js';

export { pkcs11js };

// Return values we act on (PKCS#11 v2.40 §11.1); pkcs11js exposes the number as Pkcs11Error.code.
export const CKR = {
  GENERAL_ERROR: 0x05,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  KEY_HANDLE_INVALID: 0x60,
  OBJECT_HANDLE_INVALID: 0x82,
  PIN_INCORRECT: 0xa0,
  PIN_LEN_RANGE: 0xa2,
  PIN_LOCKED: 0xa4,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

export function pkcs11Code(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

interface LoadedModule {
  lib: pkcs11js.PKCS11;
  path: string;
  softhsmConf: string | undefined;
  users: number;
}

let loaded: LoadedModule | undefined;

/** Load and initialize the module (once per process); callers release() when done. */
export function acquireModule(modulePath: string, softhsmConf: string | undefined): pkcs11js.PKCS11 {
  if (loaded) {
    if (loaded.path !== modulePath || loaded.softhsmConf !== softhsmConf) {
      throw new KeysError('KEYS_UNAVAILABLE', 'a different PKCS#11 module or token configuration is already loaded in this process');
    }
    loaded.users++;
    return loaded.lib;
  }
  if (!existsSync(modulePath)) throw new KeysError('KEYS_MODULE_MISSING', `PKCS#11 module ${modulePath} not found`);
  if (softhsmConf !== undefined) {
    if (!existsSync(softhsmConf)) throw new KeysError('KEYS_TOKEN_MISSING', `SoftHSM configuration ${softhsmConf} not found`);
    process.env.SOFTHSM2_CONF = softhsmConf;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(modulePath);
    // Token calls run on libuv's worker threads (KeyService's session pool). Without CKF_OS_LOCKING_OK a
    // module may assume one thread (SoftHSM then disables its mutexes, and concurrent calls corrupt its heap).
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (pkcs11Code(e) !== CKR.CRYPTOKI_ALREADY_INITIALIZED) {
      throw new KeysError('KEYS_MODULE_MISSING', `PKCS#11 module ${modulePath} failed to initialize: ${(e as Error).message}`, e);
    }
  }
  loaded = { lib, path: modulePath, softhsmConf, users: 1 };
  return lib;
}

/** Whether this process holds the PKCS#11 module loaded now (then a new open does not initialize it again). */
export function moduleLoaded(): boolean {
  return loaded !== undefined;
}

export function releaseModule(lib: pkcs11js.PKCS11): void {
  if (!loaded || loaded.lib !== lib) return;
  loaded.users--;
  if (loaded.users > 0) return;
  try {
    lib.C_Finalize();
  } catch {
    // Finalizing a module that already lost its token is not worth failing a shutdown for.
  }
  try {
    lib.close();
  } catch {
    /* as above */
  }
  loaded = undefined;
}

/** Token labels are 32 bytes, blank-padded (some modules pad with NULs): compare trimmed. */
export function tokenLabel(raw: string): string {
  return raw.replace(/[\s\0]+$/u, '');
}

export function findSlotByLabel(lib: pkcs11js.PKCS11, label: string): Buffer | undefined {
  for (const slot of lib.C_GetSlotList(true)) {
    const info = lib.C_GetTokenInfo(slot);
    if ((info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0 && tokenLabel(info.label) === label) return slot;
  }
  return undefined;
}
