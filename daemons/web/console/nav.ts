// The console's pages and the permission each needs (the API's own permission names, from GET /api/v1/me).
// A page the user may not use is not offered; the API refuses its calls anyway.
import type { MessageKey } from './i18n.js';

export interface NavItem {
  path: string;
  label: MessageKey;
  /** Any one of these opens the page; none: every signed-in user. */
  anyOf: string[];
}

export const NAV: NavItem[] = [
  { path: '/console', label: 'console.nav.home', anyOf: [] },
  { path: '/console/users', label: 'console.nav.users', anyOf: ['users.read'] },
  { path: '/console/audit', label: 'console.nav.audit', anyOf: ['audit.read'] },
  { path: '/console/sessions', label: 'console.sessions.nav', anyOf: ['audit.read', 'access.manage', 'recordings.view'] },
];

export function allowed(item: NavItem, permissions: readonly string[]): boolean {
  return item.anyOf.length === 0 || item.anyOf.some((p) => permissions.includes(p));
}

/**
 * The page a path belongs to: its own item, or the item whose path it extends (`/console/devices/42` is the
 * devices page's; the page reads the rest of the path itself). The home page owns only `/console`.
 */
export function navItemOf(path: string): NavItem | undefined {
  return NAV.find((n) => n.path === path) ?? NAV.find((n) => n.path !== '/console' && path.startsWith(`${n.path}/`));
}
