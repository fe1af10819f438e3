// Profiles and their permissions: the one place that answers "may this profile do that?".
import { WardenError } from '../errors/index.js';

export const PERMISSIONS = [
  'users.read',
  'users.manage',
  'settings.read',
  'settings.manage',
  'audit.read',
  'devices.read',
  'devices.manage',
  'credentials.manage',
  'access.manage',
  'recordings.view',
  'certificates.read',
  'certificates.manage',
  'sessions.use',
  'passwords.view',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PROFILES = {
  administrator: { label: 'Administrator', permissions: [...PERMISSIONS] },
  configurator: {
    label: 'Configurator',
    permissions: ['users.read', 'settings.read', 'settings.manage', 'devices.read', 'devices.manage', 'credentials.manage', 'access.manage'],
  },
  auditor: { label: 'Auditor', permissions: ['users.read', 'settings.read', 'audit.read', 'recordings.view', 'certificates.read', 'devices.read'] },
  'privileged-access-user': { label: 'Privileged-access user', permissions: ['sessions.use'] },
  'password-viewer': { label: 'Password viewer', permissions: ['passwords.view'] },
  'privileged-access-and-view-user': { label: 'Privileged-access-and-view user', permissions: ['sessions.use', 'passwords.view'] },
} as const satisfies Record<string, { label: string; permissions: readonly Permission[] }>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function isProfile(value: unknown): value is ProfileName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PROFILES, value);
}

export function permissionsOf(profile: string): readonly Permission[] {
  return isProfile(profile) ? PROFILES[profile].permissions : [];
}

export function can(profile: string, permission: Permission): boolean {
  return permissionsOf(profile).includes(permission);
}

/** Throws AUTH_FORBIDDEN unless `profile` holds `permission`. An unknown profile holds nothing. */
export function requirePermission(profile: string, permission: Permission): void {
  if (!can(profile, permission)) throw new WardenError('AUTH_FORBIDDEN', `the ${permission} permission is required`);
}
