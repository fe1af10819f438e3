// Keys: the PKCS#11 token (HSM, smart card or the embedded SoftHSM2), the master key on it, and envelope
// encryption of records under per-record data keys wrapped by that master key.
export { KeyService, MASTER_KEY_LABEL, AUDIT_KEY_LABEL, type KeyServiceOptions, type KeyStatus } from './key-service.js';
export { initSoftHsmToken, writeSoftHsmConfig, shareTokenFiles, SOFTHSM_MODULE } from './softhsm.js';
export { generateMasterKeyMaterial, type MasterKeyHandoff } from './master-key.js';
export { writeKeyCheck, verifyKeyCheck, KEY_CHECK_META } from './key-check.js';
export { writeAuditKeyCopy, installAuditKeyFromStore, AUDIT_KEY_META } from './audit-key-copy.js';
