// One-time RDP tickets: how a person whose second factor an RDP client cannot carry (a certificate in the
// browser, Duo) reaches RDP. The web issues a ticket (inside an .rdp file) to a signed-in user the access
// decision allows now; the RDP proxy redeems it once, within a minute, from the same address, instead of a
// password, and then asks SessionService.open as for any login — the ticket says who and how they
// authenticated, never whether they may: that stays the one admission decision, made at the session.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { AuthService, CertificateLogin, ProxyAuthenticationProof } from '../auth/index.js';
import type { AccessDecisions } from '../access/index.js';
import type { SettingsService } from '../settings/index.js';
import { normalizeIp, webLoginProof } from '../auth/index.js';
import { AuthError, InputError, WardenError, requireText, type ErrorCode } from '../errors/index.js';

/** How long a ticket may wait for its redemption. */
export const RDP_TICKET_TTL_MS = 60_000;
/**
 * How long a ticket's row outlives its expiry: a replay a few minutes late is still told apart ("used",
 * "expired") from a forgery ("unknown") in the audit trail. Rows older than this are purged at each issue.
 */
export const RDP_TICKET_RETENTION_MS = 10 * 60_000;
/** Tickets one user may hold unredeemed at once: a script looping on the API cannot fill the table. */
export const MAX_OUTSTANDING_RDP_TICKETS = 20;

/** 256 random bits, base64url without padding. */
const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Why a redemption was refused (the audit row's `refusal`); the RDP client is told nothing but a dropped connection. */
export type RdpTicketRefusal = 'unknown' | 'used' | 'expired' | 'wrong-source' | 'user-disabled' | 'user-locked';

/** How the web session that asked for the ticket was authenticated. */
export type RdpTicketMethod = 'password' | 'password+totp' | 'password+certificate' | 'password+duo';

/** Who asks for a ticket: a signed-in web user, by their session (its authentication is read from the store). */
export interface RdpTicketActor {
  userId: number;
  username: string;
  ip: string | null;
  /** The web session's id (`SessionContext.sessionId`, the hash of its cookie). */
  webSessionId: string;
}

export interface RdpTicketRequest {
  deviceId: number;
  credentialId: number;
  /** The client address the ticket is bound to: the RDP client must connect from it. */
  sourceIp: string;
  /** The reason for the session, when the admitting group requires one (an RDP client has no prompt for it). */
  reason?: string;
}

export interface IssuedRdpTicket {
  /** The ticket itself: shown once, in the .rdp file; only its SHA-256 is stored. */
  ticket: string;
  /** Epoch ms after which it is refused. */
  expiresAt: number;
  /** The row's id, as the audit trail names the ticket. */
  ticketId: number;
  /** The target as it was when the ticket was issued (for the .rdp file's name and its informational user line). */
  hostname: string;
  credentialUsername: string;
}

/** What a redeemed ticket stands for: everything `SessionService.open` needs besides the protocol. */
export interface RedeemedRdpTicket {
  ticketId: number;
  userId: number;
  username: string;
  deviceId: number;
  credentialId: number;
  /** The client's address, normalized (what the ticket was bound to and redeemed from). */
  source: string;
  /** The reason given at issue, if any: pass it to SessionService.open. */
  reason?: string;
  /**
   * How the person authenticated on the web, for the forced-certificate gate: pass it as
   * `OpenRequest.authentication`. With the gate on, only a web session authenticated with the certificate
   * bound to the user now (valid under the trust store now) opens a session.
   */
  authentication: ProxyAuthenticationProof & { method: RdpTicketMethod };
}

export type RdpTicketRedemption = { redeemed: true; ticket: RedeemedRdpTicket } | { redeemed: false; refusal: RdpTicketRefusal };

export interface RdpTicketDeps {
  store: Store;
  audit: AuditTrail;
  decisions: AccessDecisions;
  certificates: CertificateLogin;
  auth: AuthService;
  settings: SettingsService;
  clock?: () => number;
}

export function rdpTicketHash(ticket: string): string {
  return createHash('sha256').update(ticket, 'utf8').digest('hex');
}

export class RdpTicketService {
  private readonly now: () => number;

  constructor(private readonly deps: RdpTicketDeps) {
    this.now = deps.clock ?? Date.now;
  }

  /**
   * Issue a ticket for (device, credential) to the actor, if the access decision allows them RDP there now
   * (decided in the transaction that stores the ticket) and the forced-certificate gate would let their web
   * login open a proxy session. Refused: AUTH_FORBIDDEN (details only for a target their groups hold), or
   * INPUT_INVALID when a reason is required and missing; either way a `rdp_ticket.refused` event.
   */
  async issue(actor: RdpTicketActor, req: RdpTicketRequest): Promise<IssuedRdpTicket> {
    const source = normalizeIp(req.sourceIp);
    const reason = req.reason === undefined ? '' : requireText(req.reason.trim(), 'reason', { max: 1024 });
    const web = await this.deps.store.repos.webSessions.byId(actor.webSessionId);
    if (!web || web.user_id !== actor.userId || web.stage !== 'complete') throw new AuthError('AUTH_SESSION_INVALID', 'no complete web session for this user');
    const proof = webLoginProof(web);
    const { method, certificateFingerprint } = proof;
    const target = { deviceId: req.deviceId, credentialId: req.credentialId };
    const refuse = async (refusal: string, rule: string, code: ErrorCode) => {
      await this.deps.audit.record({
        type: 'rdp_ticket.refused',
        outcome: 'failure',
        actor: actor.username,
        actorIp: actor.ip,
        subject: `device:${req.deviceId}/credential:${req.credentialId}`,
        code,
        detail: { stage: 'issue', refusal, ticket: null, ...target, rule },
      });
    };

    // The same gate SessionService.open applies to the redemption: a ticket it would refuse is not issued.
    const gate = await this.deps.certificates.proxySessionAllowed(actor.userId, proof);
    if (!gate.allowed) {
      await refuse('certificate-required', gate.reason, gate.code);
      throw new WardenError('AUTH_FORBIDDEN', 'a web login with your certificate is required for proxy sessions', { details: { refusal: 'certificate-required' } });
    }

    const timeZone = await this.deps.decisions.timeZone();
    const ticket = randomBytes(32).toString('base64url');
    const ticketHash = rdpTicketHash(ticket);
    const at = this.now();
    const expiresAt = at + RDP_TICKET_TTL_MS;
    type Outcome = { ok: true; id: number; hostname: string; credentialUsername: string } | { ok: false; refusal: string; rule: string; covered: boolean };
    const outcome = await this.deps.store.transaction(async (repos): Promise<Outcome> => {
      const { decision, covered } = await this.deps.decisions.decideIn(repos, timeZone, actor.userId, req.deviceId, req.credentialId, 'rdp', at);
      if (!covered || decision.outcome === 'denied') return { ok: false, refusal: 'denied', rule: decision.rule, covered };
      if (decision.outcome === 'approval-required') return { ok: false, refusal: 'needs-approval', rule: decision.rule, covered };
      if (decision.reasonRequired && reason === '') return { ok: false, refusal: 'reason-required', rule: decision.rule, covered };
      await repos.rdpTickets.purgeExpired(at - RDP_TICKET_RETENTION_MS);
      if ((await repos.rdpTickets.outstanding(actor.userId, at)) >= MAX_OUTSTANDING_RDP_TICKETS) return { ok: false, refusal: 'too-many', rule: `at most ${MAX_OUTSTANDING_RDP_TICKETS} unredeemed tickets`, covered };
      const id = await repos.rdpTickets.insert({
        ticket_hash: ticketHash,
        user_id: actor.userId,
        device_id: req.deviceId,
        credential_id: req.credentialId,
        source_ip: source,
        auth_method: method,
        certificate_fingerprint: certificateFingerprint ?? null,
        reason,
        created_at: at,
        expires_at: expiresAt,
        used_at: null,
      });
      await this.deps.audit.record(
        {
          type: 'rdp_ticket.issued',
          outcome: 'success',
          actor: actor.username,
          actorIp: actor.ip,
          subject: `rdp-ticket:${id}`,
          detail: { ticket: id, ...target, method, expiresAt, rule: decision.rule, ...(reason ? { reason } : {}) },
        },
        repos,
      );
      const device = (await repos.devices.device(req.deviceId))!;
      const credential = (await repos.credentials.credential(req.credentialId))!;
      return { ok: true, id, hostname: device.hostname, credentialUsername: credential.username };
    });
    if (outcome.ok) return { ticket, expiresAt, ticketId: outcome.id, hostname: outcome.hostname, credentialUsername: outcome.credentialUsername };

    await refuse(outcome.refusal, outcome.rule, 'ACCESS_DENIED');
    if (outcome.refusal === 'reason-required') throw new InputError('a reason is required for a session on this device', { field: 'reason' });
    // Outside the user's groups, the same answer whether the device and credential exist or not.
    if (!outcome.covered) throw new WardenError('AUTH_FORBIDDEN', 'not allowed');
    throw new WardenError('AUTH_FORBIDDEN', outcome.refusal === 'needs-approval' ? 'approval is required first' : 'not allowed now', { details: { refusal: outcome.refusal, rule: outcome.rule } });
  }

  /**
   * Redeem a ticket presented by an RDP client connecting from `sourceIp`: once. The checks and the mark
   * that uses it are one transaction (the mark a conditional update), so of any number of redemptions of one
   * ticket, in any processes, exactly one succeeds. A ticket presented from another address, or for a user
   * since disabled or locked, is used up by the refusal: it has leaked, or its holder may no longer use it.
   * Whether the session may open is not decided here: pass the result to SessionService.open.
   */
  async redeem(ticket: string, sourceIp: string): Promise<RdpTicketRedemption> {
    const source = normalizeIp(sourceIp);
    const settings = await this.deps.settings.current();
    const at = this.now();
    return this.deps.store.transaction(async (repos): Promise<RdpTicketRedemption> => {
      const row = TICKET_FORMAT.test(ticket) ? await repos.rdpTickets.byHash(rdpTicketHash(ticket)) : undefined;
      const user = row ? await repos.users.byId(row.user_id) : undefined;
      const refuse = async (refusal: RdpTicketRefusal, code: ErrorCode, burn: boolean): Promise<RdpTicketRedemption> => {
        if (burn && row) await repos.rdpTickets.claim(row.id, at);
        await this.deps.audit.record(
          {
            type: 'rdp_ticket.refused',
            outcome: 'failure',
            actor: user?.username ?? 'unknown',
            actorIp: source,
            subject: row ? `rdp-ticket:${row.id}` : 'rdp-ticket:unknown',
            code,
            detail: {
              stage: 'redeem',
              refusal,
              ticket: row?.id ?? null,
              deviceId: row?.device_id ?? null,
              credentialId: row?.credential_id ?? null,
              ...(refusal === 'wrong-source' && row ? { expectedSource: row.source_ip } : {}),
            },
          },
          repos,
        );
        return { redeemed: false, refusal };
      };
      if (!row || !user) return refuse('unknown', 'AUTH_INVALID', false);
      if (row.used_at !== null) return refuse('used', 'AUTH_INVALID', false);
      if (at >= Number(row.expires_at)) return refuse('expired', 'AUTH_SESSION_EXPIRED', false);
      if (row.source_ip !== source) return refuse('wrong-source', 'AUTH_SESSION_IP_CHANGED', true);
      if (user.status !== 'active') return refuse('user-disabled', 'AUTH_DISABLED', true);
      if (this.deps.auth.isLocked(user, settings, at)) return refuse('user-locked', 'AUTH_LOCKED', true);
      // Serialized here by the engine's write lock; the conditional update still decides alone if it were not.
      if (!(await repos.rdpTickets.claim(row.id, at))) return refuse('used', 'AUTH_INVALID', false);
      const method = row.auth_method as RdpTicketMethod;
      await this.deps.audit.record(
        {
          type: 'rdp_ticket.redeemed',
          outcome: 'success',
          actor: user.username,
          actorIp: source,
          subject: `rdp-ticket:${row.id}`,
          detail: { ticket: row.id, deviceId: row.device_id, credentialId: row.credential_id, method },
        },
        repos,
      );
      return {
        redeemed: true,
        ticket: {
          ticketId: row.id,
          userId: user.id,
          username: user.username,
          deviceId: row.device_id,
          credentialId: row.credential_id,
          source,
          ...(row.reason ? { reason: row.reason } : {}),
          authentication: { method, ...(row.certificate_fingerprint ? { certificateFingerprint: row.certificate_fingerprint } : {}) },
        },
      };
    });
  }
}
