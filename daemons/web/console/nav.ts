// The console's pages and the permission each needs (the API's own permission names, from GET /api/v1/me).
// A page the user may not use is not offered; the API refuses its calls anyway.
// The key type straight from the catalogue (not ./i18n.js, which needs the DOM): the tests read this table too.
import type { MessageKey } from '../../../appliance/i18n/index.js';

export interface NavItem {
  path: string;
  label: MessageKey;
  /** Any one of these opens the page; none: every signed-in user. */
  anyOf: string[];
  /** Only for those who approve access requests for some group (GET /api/v1/me's `approver`), whatever the profile. */
  approvers?: true;
}

export const NAV: NavItem[] = [
  { path: '/console', label: 'console.nav.home', anyOf: [] },
  { path: '/console/my-access', label: 'console.nav.myAccess', anyOf: ['sessions.use', 'passwords.view'] },
  { path: '/console/approvals', label: 'console.nav.approvals', anyOf: [], approvers: true },
  { path: '/console/users', label: 'console.nav.users', anyOf: ['users.read'] },
  { path: '/console/devices', label: 'console.nav.devices', anyOf: ['devices.read'] },
  { path: '/console/credentials', label: 'console.credentials.nav', anyOf: ['devices.read', 'passwords.view'] },
  { path: '/console/access-groups', label: 'console.accessGroups.nav', anyOf: ['access.manage'] },
  { path: '/console/sessions', label: 'console.sessions.nav', anyOf: ['audit.read', 'access.manage', 'recordings.view'] },
  { path: '/console/audit', label: 'console.nav.audit', anyOf: ['audit.read'] },
  { path: '/console/certificates', label: 'console.nav.certificates', anyOf: ['certificates.read'] },
  { path: '/console/settings', label: 'console.nav.settings', anyOf: ['settings.read'] },
];

export function allowed(item: NavItem, permissions: readonly string[], approver = false): boolean {
  if (item.approvers) return approver;
  return item.anyOf.length === 0 || item.anyOf.some((p) => permissions.includes(p));
}

/**
 * The page a path belongs to: its own item, or the item whose path it extends (`/console/devices/42` is the
 * devices page's; the page reads the rest of the path itself). The home page owns only `/console`.
 */
export function navItemOf(path: string): NavItem | undefined {
  return NAV.find((n) => n.path === path) ?? NAV.find((n) => n.path !== '/console' && path.startsWith(`${n.path}/`));
}
