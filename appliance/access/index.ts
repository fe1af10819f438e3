// Access: users and their profiles (the permission check lives here, once), and account administration.
// Devices, credentials, pinned host keys, protected information, access groups, time windows, requests and
// approvals, password view, and the one access decision every protocol asks (decision.ts decides over a
// snapshot; access-decisions.ts loads it from the store).
export { PERMISSIONS, PROFILES, PROFILE_NAMES, can, permissionsOf, requirePermission, isProfile, type Permission, type ProfileName } from './profiles.js';
export { UserAdminService, validateNewUser, validateUsername, actorEvent, type Actor, type NewUser, type UserView } from './user-admin.js';
export { DeviceService, validateDevice, IMPORT_BATCH, type DeviceView, type DeviceListItem, type ImportRowReport } from './devices.js';
export { CredentialService, CREDENTIAL_KINDS, type CredentialView } from './credentials.js';
export { HostKeyService } from './host-keys.js';
export { ProtectedItemService, type ProtectedItemView, type ProtectedItemAccess } from './protected-items.js';
export { AccessGroupService, validateGroup, MEMBER_KINDS, type AccessGroupView, type AccessGroupSummary, type CommandRulesView, type GroupMember, type MemberKind } from './access-groups.js';
export { AccessDecisions, type ReachableTarget, type TargetState, type Evaluation } from './access-decisions.js';
export { AccessRequestService, MAX_GRANT_MS, type AccessRequestView, type AccessRequestListItem, type GrantExpired } from './access-requests.js';
export { PasswordViewService, type PasswordViewState } from './password-view.js';
export { decide, decideProtectedItem, parseConnectivity, type Decision, type Purpose } from './decision.js';
export { validateMediaType, servableMediaType, DEFAULT_MEDIA_TYPE } from './media-type.js';
export { withinWindows, validateTimeWindows, type TimeWindow } from './time-windows.js';
export { ConnectivityService, probe, type PortResult } from './connectivity.js';
