// The login name a proxy receives (SSH's user name, RDP's user name or routing cookie) carries the Warden user
// and, optionally, where they want to go:
//   alice               → the menu (SSH; RDP has no menu and refuses it)
//   alice:root@db01     → credential "root" on device db01 (host name or address)
//   alice@db01          → db01's one credential Alice may use
// A Warden user name may itself hold '@' (e-mail-like names): the device is what follows the LAST '@', and
// such a user reaches the menu with a trailing '@' ("alice@example.test@"). Parsed strictly: anything else
// is refused before a single lookup, so a 10 KB name costs nothing.
import { isIP } from 'node:net';

export interface LoginName {
  wardenUser: string;
  /** null: the menu. */
  target: { device: string; credentialUser: string | null } | null;
}

/** Longest login name accepted at all (64 user + 128 credential + 253 host + separators). */
export const MAX_LOGIN_NAME = 450;

const WARDEN_USER = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// Credential user names on targets: POSIX names, and DOMAIN\user or user@domain forms; no spaces or controls.
const CREDENTIAL_USER = /^[A-Za-z0-9_.\\@$-]{1,128}$/;

/** The parsed name, or null when it is not one this proxy accepts. */
export function parseLoginName(raw: string): LoginName | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_LOGIN_NAME) return null;
  const at = raw.lastIndexOf('@');
  if (at < 0) return WARDEN_USER.test(raw) ? { wardenUser: raw, target: null } : null;
  const left = raw.slice(0, at);
  const device = raw.slice(at + 1);
  if (device === '') return WARDEN_USER.test(left) ? { wardenUser: left, target: null } : null;
  if (!HOSTNAME.test(device) && isIP(device) === 0) return null;
  const colon = left.indexOf(':');
  const wardenUser = colon < 0 ? left : left.slice(0, colon);
  const credentialUser = colon < 0 ? null : left.slice(colon + 1);
  if (!WARDEN_USER.test(wardenUser)) return null;
  if (credentialUser !== null && !CREDENTIAL_USER.test(credentialUser)) return null;
  return { wardenUser, target: { device, credentialUser } };
}
