// Run as a child process (its own SOFTHSM2_CONF): sign with the private key labelled KEYLABEL *on* the
// SoftHSM token, as a smart card signs an SSH login: CKM_ECDSA over the SHA-256 of DATA. Prints the raw
// signature (r‖s, hex). Usage: node smart-card-sign.js LABEL PIN KEYLABEL DATA_HEX
import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';

const [label, pin, keyLabel, dataHex] = process.argv.slice(2);
const lib = new pkcs11js.PKCS11();
lib.load('/usr/lib/softhsm/libsofthsm2.so');
lib.C_Initialize();
try {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === label);
  if (!slot) throw new Error(`no token ${label}`);
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  lib.C_Login(session, pkcs11js.CKU_USER, pin);
  lib.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  const key = lib.C_FindObjects(session);
  lib.C_FindObjectsFinal(session);
  if (!key) throw new Error(`no private key ${keyLabel}`);
  lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, key);
  const digest = createHash('sha256').update(Buffer.from(dataHex!, 'hex')).digest();
  const signature = lib.C_Sign(session, digest, Buffer.alloc(132));
  process.stdout.write(signature.toString('hex') + '\n');
  lib.C_Logout(session);
  lib.C_CloseSession(session);
} finally {
  lib.C_Finalize();
}
