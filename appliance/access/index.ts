// Access: users and their profiles (the permission check lives here, once), and account administration.
// Devices, credentials, protected information, access groups, time windows, requests and approvals, and the
// one access decision every protocol asks.
export { PERMISSIONS, PROFILES, PROFILE_NAMES, can, permissionsOf, requirePermission, isProfile, type Permission, type ProfileName } from './profiles.js';
export { UserAdminService, validateNewUser, validateUsername, actorEvent, type Actor, type NewUser, type UserView } from './user-admin.js';
export { InventoryService, validateDevice, CREDENTIAL_KINDS, IMPORT_BATCH, type DeviceView, type CredentialView, type ImportRowReport, type ProtectedItemView } from './inventory.js';
export { PolicyService, validateGroup, MAX_GRANT_MS, type AccessGroupView, type AccessRequestView, type GrantExpired, type ReachableTarget, type TargetState, type Evaluation, type ProtectedItemAccess } from './policy-service.js';
export { decide, decideProtectedItem, parseConnectivity, type Decision, type Purpose } from './decision.js';
export { validateMediaType, servableMediaType, DEFAULT_MEDIA_TYPE } from './media-type.js';
export { withinWindows, validateTimeWindows, type TimeWindow } from './time-windows.js';
export { ConnectivityService, probe, type PortResult } from './connectivity.js';
