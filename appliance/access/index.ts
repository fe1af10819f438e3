// Access: users and their profiles (the permission check lives here, once), and account administration.
// Devices, credentials, access groups and approvals join in the vault-and-policy issue.
export { PERMISSIONS, PROFILES, PROFILE_NAMES, can, permissionsOf, requirePermission, isProfile, type Permission, type ProfileName } from './profiles.js';
export { UserAdminService, validateNewUser, validateUsername, type Actor, type NewUser, type UserView } from './user-admin.js';
