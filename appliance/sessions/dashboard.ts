// The console's dashboard: what needs a person's eye now, each section only for those whose profile may see
// what it summarizes (the same permissions as the lists it links to), each a bounded read.
import { can } from '../access/index.js';
import type { Store } from '../store/index.js';
import type { LiveSessionView, SessionService } from './session-service.js';

/** How far back the failure counts look. */
export const DASHBOARD_RECENT_MS = 24 * 3_600_000;
/** How far ahead a certificate's end makes it "expiring". */
export const DASHBOARD_EXPIRY_MS = 30 * 86_400_000;
/** How many items a section lists (its total says how many there are). */
export const DASHBOARD_LIST = 10;

/** The audit types whose failures are failed logins: the first factor anywhere, a second factor, a proxy login. */
export const FAILED_LOGIN_TYPES = ['auth.login', 'auth.mfa', 'auth.proxy_login'] as const;
export const BLOCKED_COMMAND_TYPE = 'session.command_blocked';

export interface DashboardView {
  generatedAt: string;
  /** Everyone: anybody may be named an approver. */
  approvals: { pending: number };
  /** audit.read or access.manage (as the live list). */
  liveSessions?: { total: number; sessions: LiveSessionView[] };
  /** audit.read: from the audit trail. */
  failedLogins?: { since: string; total: number; byType: Record<string, number> };
  blockedCommands?: { since: string; total: number };
  /** certificates.read: active trusted CAs and bound login certificates ending within 30 days. */
  expiring?: {
    until: string;
    authorities: { total: number; items: { id: number; subject: string; notAfter: string }[] };
    certificates: { total: number; items: { id: number; userId: number; username: string; subject: string; notAfter: string }[] };
  };
  /** devices.read: active devices whose last connectivity test failed on a port. */
  unreachableDevices?: { total: number; devices: { id: number; hostname: string; address: string; failingPorts: number; checkedAt: string }[] };
}

export class Dashboard {
  constructor(private readonly deps: { store: Store; sessions: SessionService; clock?: () => number }) {}

  async overview(user: { id: number; profile: string }): Promise<DashboardView> {
    const now = (this.deps.clock ?? Date.now)();
    const repos = this.deps.store.repos;
    const iso = (ms: number) => new Date(ms).toISOString();
    const since = now - DASHBOARD_RECENT_MS;
    const until = now + DASHBOARD_EXPIRY_MS;
    const mayWatch = can(user.profile, 'audit.read') || can(user.profile, 'access.manage');
    const [pending, live, audit, authorities, certificates, failing] = await Promise.all([
      repos.accessRequests.countPendingFor(user.id),
      mayWatch ? this.deps.sessions.pageLiveSessions(user, { limit: DASHBOARD_LIST, offset: 0 }) : undefined,
      can(user.profile, 'audit.read') ? repos.dashboard.auditCounts([...FAILED_LOGIN_TYPES, BLOCKED_COMMAND_TYPE], 'failure', since) : undefined,
      can(user.profile, 'certificates.read') ? repos.dashboard.expiringAuthorities(now, until, DASHBOARD_LIST) : undefined,
      can(user.profile, 'certificates.read') ? repos.dashboard.expiringCertificates(now, until, DASHBOARD_LIST) : undefined,
      can(user.profile, 'devices.read') ? repos.dashboard.failingDevices(DASHBOARD_LIST) : undefined,
    ]);
    const view: DashboardView = { generatedAt: iso(now), approvals: { pending } };
    if (live) view.liveSessions = live;
    if (audit) {
      const byType = Object.fromEntries(FAILED_LOGIN_TYPES.map((t) => [t, audit[t] ?? 0]));
      view.failedLogins = { since: iso(since), total: Object.values(byType).reduce((a, b) => a + b, 0), byType };
      view.blockedCommands = { since: iso(since), total: audit[BLOCKED_COMMAND_TYPE] ?? 0 };
    }
    if (authorities && certificates) {
      view.expiring = {
        until: iso(until),
        authorities: { total: authorities.total, items: authorities.rows.map((r) => ({ id: r.id, subject: r.subject, notAfter: iso(r.not_after) })) },
        certificates: { total: certificates.total, items: certificates.rows.map((r) => ({ id: r.id, userId: r.user_id, username: r.username, subject: r.subject, notAfter: iso(r.not_after) })) },
      };
    }
    if (failing) {
      view.unreachableDevices = {
        total: failing.total,
        devices: failing.rows.map((r) => ({ id: r.id, hostname: r.hostname, address: r.address, failingPorts: r.failing_ports, checkedAt: iso(r.checked_at) })),
      };
    }
    return view;
  }
}
