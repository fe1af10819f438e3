// The embedded default token: a SoftHSM2 token under the state directory, created by `orbit init`.
// Initialization goes through PKCS#11 itself (C_InitToken/C_InitPIN), so no extra binary is needed.
import { existsSync } from 'node:fs';
import { KeysError } from '../errors/index.js';
import { makePrivateDir, writePrivateFile } from '../config/index.js';
import { acquireModule, findSlotByLabel, pkcs11js, releaseModule } from './pkcs11-module.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Write a SoftHSM2 config whose token directory is `tokenDir`. */
export function writeSoftHsmConfig(confPath: string, tokenDir: string): void {
  makePrivateDir(tokenDir);
  writePrivateFile(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
}

/**
 * Initialize a new token labelled `label` in the first free slot and set its user PIN.
 * Refuses if a token with that label exists: re-initializing would destroy the master key.
 */
export function initSoftHsmToken(opts: { module: string; softhsmConf: string; label: string; soPin: string; userPin: string }): void {
  if (!existsSync(opts.softhsmConf)) throw new KeysError('KEYS_TOKEN_MISSING', `SoftHSM configuration ${opts.softhsmConf} not found`);
  const lib = acquireModule(opts.module, opts.softhsmConf);
  try {
    if (findSlotByLabel(lib, opts.label)) throw new KeysError('KEYS_MASTER_KEY_EXISTS', `a token labelled "${opts.label}" already exists`);
    const free = lib.C_GetSlotList(true).find((s) => (lib.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
    if (!free) throw new KeysError('KEYS_TOKEN_MISSING', 'no free SoftHSM slot to initialize');
    // pkcs11js passes the label as given; PKCS#11 wants exactly 32 blank-padded bytes.
    lib.C_InitToken(free, opts.soPin, opts.label.padEnd(32, ' '));
    const slot = findSlotByLabel(lib, opts.label);
    if (!slot) throw new KeysError('KEYS_TOKEN_MISSING', 'the new token did not appear after initialization');
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_SO, opts.soPin);
      lib.C_InitPIN(session, opts.userPin);
      lib.C_Logout(session);
    } finally {
      lib.C_CloseSession(session);
    }
  } finally {
    releaseModule(lib);
  }
}
