// Backup: the master key split among custodians with Shamir's scheme (k of n), encrypted database backups,
// and the restore that rebuilds a fresh appliance from a backup and k shares.
export { splitMasterKey, combineShares, parseShare, type ShareInfo } from './key-shares.js';
export { createBackup, restoreBackup, type RestoreOptions } from './backup-file.js';
export { rotateMasterKey, SEALED as SEALED_COLUMNS } from './key-rotation.js';
