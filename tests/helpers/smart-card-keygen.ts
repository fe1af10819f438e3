// Run as a child process (its own SOFTHSM2_CONF): generate an ECDSA P-256 key pair *on* a SoftHSM token,
// private key sensitive and non-extractable, like a smart card's. Prints the public point (hex) and
// whether reading the private value was refused. Usage: node smart-card-keygen.js LABEL PIN KEYLABEL
import pkcs11js from 'pkcs11js';

const [label, pin, keyLabel] = process.argv.slice(2);
const EC_P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const lib = new pkcs11js.PKCS11();
lib.load('/usr/lib/softhsm/libsofthsm2.so');
lib.C_Initialize();
try {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === label);
  if (!slot) throw new Error(`no token ${label}`);
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  lib.C_Login(session, pkcs11js.CKU_USER, pin);
  const id = Buffer.from([0x01]);
  const { publicKey, privateKey } = lib.C_GenerateKeyPair(
    session,
    { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
    [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_VERIFY, value: true },
      { type: pkcs11js.CKA_EC_PARAMS, value: EC_P256 },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
      { type: pkcs11js.CKA_ID, value: id },
    ],
    [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
      { type: pkcs11js.CKA_ID, value: id },
    ],
  );
  const point = lib.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value as Buffer;
  // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point 04‖X‖Y.
  const raw = point[0] === 0x04 && point.length === 67 ? point.subarray(2) : point;
  let privateReadable = true;
  try {
    lib.C_GetAttributeValue(session, privateKey, [{ type: pkcs11js.CKA_VALUE }]);
  } catch {
    privateReadable = false;
  }
  process.stdout.write(JSON.stringify({ point: raw.toString('hex'), privateReadable }) + '\n');
  lib.C_Logout(session);
  lib.C_CloseSession(session);
} finally {
  lib.C_Finalize();
}
