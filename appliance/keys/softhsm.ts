// The embedded default token: a SoftHSM2 token under the state directory, created by `orbit init`.
// Initialization goes through PKCS#11 itself (C_InitToken/C_InitPIN), so no extra binary is needed.
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KeysError } from '../errors/index.js';
import { isSharedDir, makePrivateDir, writePrivateFile, SHARED_DIR_MODE, SHARED_WRITABLE_FILE_MODE } from '../config/index.js';
import { acquireModule, findSlotByLabel, pkcs11js, releaseModule } from './pkcs11-module.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Write a SoftHSM2 config whose token directory is `tokenDir`. */
export function writeSoftHsmConfig(confPath: string, tokenDir: string): void {
  makePrivateDir(tokenDir);
  writePrivateFile(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
}

/**
 * SoftHSM 2.6 creates token files 0600 and directories 0700 whatever the umask. On the appliance its three
 * daemons (three users) share the token through the group warden, so after each call that creates token
 * files, those this process owns are made 0660 and directories 2770 — only when the token directory is a
 * shared one (config/private-files); elsewhere nothing changes. Until then (microseconds, same call) the new
 * object is unreadable to the other daemons, which would miss only an object made that very moment.
 */
export function shareTokenFiles(softhsmConf: string | undefined): void {
  if (!softhsmConf || !existsSync(softhsmConf)) return;
  const line = readFileSync(softhsmConf, 'utf8').split('\n').find((l) => /^\s*directories\.tokendir\s*=/.test(l));
  const tokenDir = line?.slice(line.indexOf('=') + 1).trim();
  if (!tokenDir || !isSharedDir(tokenDir)) return;
  const uid = process.getuid?.();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (st.uid === uid && (st.mode & 0o7777) !== SHARED_DIR_MODE) chmodSync(p, SHARED_DIR_MODE);
        walk(p);
      } else if (st.isFile() && st.uid === uid && (st.mode & 0o7777) !== SHARED_WRITABLE_FILE_MODE) {
        chmodSync(p, SHARED_WRITABLE_FILE_MODE);
      }
    }
  };
  walk(tokenDir);
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
  shareTokenFiles(opts.softhsmConf);
}
