// One-time RDP tickets on a real appliance (SoftHSM token): issued to a signed-in web user the access
// decision allows, only the hash stored, redeemed exactly once (also under concurrent redemptions), within
// 60 s, from the bound address; the ticket carries how the person authenticated on the web, which the
// forced-certificate gate of SessionService.open judges; access revoked after issue is refused by the open.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { RDP_TICKET_TTL_MS, RDP_TICKET_RETENTION_MS, MAX_OUTSTANDING_RDP_TICKETS, rdpTicketHash, type RdpTicketActor, type RedeemedRdpTicket } from '../../../appliance/sessions/index.js';
import { initializedHome, ManualClock, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';
import { createCa, der, issueLeaf } from '../../helpers/pki.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const WEB_IP = '127.0.0.41';

describe('one-time RDP tickets', () => {
  let home: InitializedHome;
  let a: Appliance;
  // Certificates made for the test are valid around the real time: the clock starts there.
  const clock = new ManualClock(Date.now());
  const uid: Record<string, number> = {};
  const dev: Record<string, number> = {};
  const cred: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  let carolLeaf: Buffer;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
    await a.settings.update({ timeZone: 'UTC' }, 'admin', null);
    for (const name of ['ana', 'bob', 'carol', 'dave'] as const) {
      passwords[name] = strongPassword();
      uid[name] = (await a.users.create(admin, { username: name, fullName: name, email: `${name}@example.test`, profile: 'privileged-access-user', password: passwords[name] })).user.id;
      await a.store.repos.users.update(uid[name]!, { must_change_password: false });
    }
    const devices = [
      ['win-direct', '127.0.0.21', 'RDP:3389'],
      ['win-approval', '127.0.0.22', 'RDP:3389'],
      ['win-reason', '127.0.0.23', 'RDP:3389'],
      ['ssh-only', '127.0.0.24', 'SSH:22'],
    ] as const;
    for (const [hostname, address, connectivity] of devices) {
      dev[hostname] = (await a.devices.createDevice(admin, { hostname, address, connectivity })).id;
      cred[hostname] = (await a.credentials.createCredential(admin, { deviceId: dev[hostname]!, username: 'Administrator', secret: `S3cret-${hostname}-${'z'.repeat(10)}` })).id;
    }
    const group = (name: string, host: string, userIds: number[], extra: Record<string, unknown> = {}) =>
      a.accessGroups.saveGroup(admin, { name, userIds, deviceIds: [dev[host]], credentialIds: [cred[host]], ...extra });
    await group('direct', 'win-direct', [uid.ana!, uid.carol!, uid.dave!]);
    await group('approval', 'win-approval', [uid.ana!], { approvalRequired: true, approverIds: [uid.bob], approvalsNeeded: 1 });
    await group('reason', 'win-reason', [uid.ana!], { reasonRequired: true });
    await group('ssh', 'ssh-only', [uid.ana!]);

    // Carol signs in on the web with her certificate as second factor (bound at that login).
    const root = await createCa('RDP Ticket Root');
    await a.trust.install(root.pem, admin);
    await a.users.setMfaMethod(admin, uid.carol!, 'certificate');
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    carolLeaf = der(await issueLeaf(root, { commonName: 'carol', email: 'carol@example.test', publicKey: keys.publicKey }));
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  /** Sign in on the web as `name` (password, and the certificate for carol): the actor the web route passes. */
  async function webLogin(name: string, ip = WEB_IP): Promise<RdpTicketActor> {
    const login = await a.auth.login({ username: name, password: passwords[name]!, ip });
    let ctx = await a.auth.authenticate(login.token, ip);
    if (ctx.mfaRequired === 'certificate') {
      await a.secondFactor.withCertificate(ctx, { leaf: carolLeaf, chain: [] }, ip);
      ctx = await a.auth.authenticate(login.token, ip);
    }
    assert.equal(ctx.mfaRequired, null);
    return { userId: ctx.user.id, username: ctx.user.username, ip, webSessionId: ctx.sessionId };
  }

  const issue = (actor: RdpTicketActor, host: string, extra: { reason?: string; sourceIp?: string; credentialId?: number; deviceId?: number } = {}) =>
    a.rdpTickets.issue(actor, {
      deviceId: extra.deviceId ?? dev[host]!,
      credentialId: extra.credentialId ?? cred[host]!,
      sourceIp: extra.sourceIp ?? actor.ip!,
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
    });

  async function redeemed(ticket: string, ip = WEB_IP): Promise<RedeemedRdpTicket> {
    const r = await a.rdpTickets.redeem(ticket, ip);
    assert.ok(r.redeemed, JSON.stringify(r));
    return r.ticket;
  }

  const refusals = async (stage: 'issue' | 'redeem') =>
    (await a.store.repos.auditEvents.query({ type: 'rdp_ticket.refused', limit: 1000 })).map((e) => JSON.parse(e.detail)).filter((d) => d.stage === stage);

  test('issued and redeemed once: 256 random bits, only the hash stored, what the session needs handed back, both audited', async () => {
    const ana = await webLogin('ana');
    const issued = await issue(ana, 'win-direct');
    assert.match(issued.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(issued.ticket, 'base64url').length, 32);
    assert.equal(issued.expiresAt, clock.now + RDP_TICKET_TTL_MS);
    const row = (await a.store.repos.rdpTickets.byHash(rdpTicketHash(issued.ticket)))!;
    assert.equal(row.ticket_hash, rdpTicketHash(issued.ticket));
    assert.ok(!JSON.stringify(row).includes(issued.ticket), 'the ticket itself is not stored');
    assert.deepEqual([row.user_id, row.device_id, row.credential_id, row.source_ip, row.auth_method, row.used_at], [uid.ana, dev['win-direct'], cred['win-direct'], WEB_IP, 'password', null]);

    const t = await redeemed(issued.ticket);
    assert.deepEqual(t, {
      ticketId: issued.ticketId,
      userId: uid.ana,
      username: 'ana',
      deviceId: dev['win-direct'],
      credentialId: cred['win-direct'],
      source: WEB_IP,
      authentication: { method: 'password' },
    });
    const [issuedEvent] = await a.store.repos.auditEvents.query({ type: 'rdp_ticket.issued', subject: `rdp-ticket:${issued.ticketId}`, limit: 1 });
    const [redeemedEvent] = await a.store.repos.auditEvents.query({ type: 'rdp_ticket.redeemed', subject: `rdp-ticket:${issued.ticketId}`, limit: 1 });
    assert.equal(issuedEvent!.actor, 'ana');
    assert.equal(JSON.parse(issuedEvent!.detail).method, 'password');
    assert.equal(redeemedEvent!.actor_ip, WEB_IP);
    const trail = JSON.stringify(await a.store.repos.auditEvents.query({ limit: 10_000 }));
    assert.ok(!trail.includes(issued.ticket), 'the ticket is never in the audit trail');

    // The redemption opens the session through the one admission decision.
    const admission = await a.sessions.open({ ...t, protocol: 'rdp', source: t.source });
    assert.ok(admission.admitted, JSON.stringify(admission));
    assert.equal(admission.session.target.port, 3389);
    await admission.session.close({ reason: 'test' });
  });

  test('single use under concurrency: 25 redemptions of one ticket at once, exactly one succeeds', async () => {
    const ana = await webLogin('ana');
    const { ticket, ticketId } = await issue(ana, 'win-direct');
    const results = await Promise.all(Array.from({ length: 25 }, () => a.rdpTickets.redeem(ticket, WEB_IP)));
    assert.equal(results.filter((r) => r.redeemed).length, 1);
    assert.deepEqual([...new Set(results.filter((r) => !r.redeemed).map((r) => !r.redeemed && r.refusal))], ['used']);
    assert.equal((await a.store.repos.auditEvents.query({ type: 'rdp_ticket.redeemed', subject: `rdp-ticket:${ticketId}`, limit: 100 })).length, 1);
    assert.equal((await a.store.repos.auditEvents.query({ type: 'rdp_ticket.refused', subject: `rdp-ticket:${ticketId}`, limit: 100 })).length, 24);
  });

  test('single use across processes: three appliances (as three proxies) redeem one ticket at once, exactly one succeeds', async () => {
    // The children read the real time: issue at the real time, so the ticket is fresh for them too.
    clock.now = Math.max(clock.now, Date.now());
    const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'rdp-ticket-redeem-child.js');
    const procs = Array.from({ length: 3 }, () => spawn(process.execPath, [child, home.home], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const outputs = procs.map((p) => {
      let out = '';
      p.stdout!.on('data', (c) => (out += c));
      p.stderr!.on('data', (c) => (out += c));
      const ready = new Promise<void>((resolve, reject) => {
        p.stdout!.on('data', () => out.includes('ready\n') && resolve());
        p.on('exit', (code) => reject(new Error(`child exited (${code}) before ready: ${out}`)));
      });
      const done = new Promise<string[]>((resolve, reject) =>
        p.on('exit', (code) => {
          const line = out.split('\n').find((l) => l.startsWith('['));
          if (code === 0 && line) resolve(JSON.parse(line));
          else reject(new Error(`child exited (${code}): ${out}`));
        }),
      );
      return { ready, done };
    });
    await Promise.all(outputs.map((o) => o.ready));
    const ana = await webLogin('ana');
    const { ticket, ticketId } = await issue(ana, 'win-direct');
    for (const p of procs) p.stdin!.end(`${ticket} ${WEB_IP} 5\n`);
    const results = (await Promise.all(outputs.map((o) => o.done))).flat();
    assert.equal(results.length, 15);
    assert.equal(results.filter((r) => r === 'redeemed').length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r === 'used').length, 14, JSON.stringify(results));
    assert.equal((await a.store.repos.auditEvents.query({ type: 'rdp_ticket.redeemed', subject: `rdp-ticket:${ticketId}`, limit: 100 })).length, 1);
    assert.equal((await a.audit.verify()).ok, true, 'the trail stays one chain');
  });

  test('60 s to redeem (injected clock): at 59.999 s it works, at 60 s it is expired', async () => {
    const ana = await webLogin('ana');
    const early = await issue(ana, 'win-direct');
    const late = await issue(ana, 'win-direct');
    clock.advance(RDP_TICKET_TTL_MS - 1);
    await redeemed(early.ticket);
    clock.advance(1);
    assert.deepEqual(await a.rdpTickets.redeem(late.ticket, WEB_IP), { redeemed: false, refusal: 'expired' });
    assert.equal((await a.store.repos.rdpTickets.byHash(rdpTicketHash(late.ticket)))!.used_at, null);
  });

  test('bound to the source address (normalized): another address is refused and burns the ticket', async () => {
    const ana = await webLogin('ana');
    const mapped = await issue(ana, 'win-direct');
    // The proxy may see the IPv4 client as an IPv4-mapped IPv6 address: the same client.
    assert.equal((await redeemed(mapped.ticket, `::ffff:${WEB_IP}`)).source, WEB_IP);

    const stolen = await issue(ana, 'win-direct');
    assert.deepEqual(await a.rdpTickets.redeem(stolen.ticket, '127.0.0.99'), { redeemed: false, refusal: 'wrong-source' });
    assert.deepEqual(await a.rdpTickets.redeem(stolen.ticket, WEB_IP), { redeemed: false, refusal: 'used' }, 'a ticket seen from elsewhere has leaked: it is spent');
    const refused = (await refusals('redeem')).find((d) => d.ticket === stolen.ticketId && d.refusal === 'wrong-source');
    assert.equal(refused.expectedSource, WEB_IP);

    const bound = await issue(ana, 'win-direct', { sourceIp: '127.0.0.42' });
    await redeemed(bound.ticket, '127.0.0.42');
  });

  test('unknown and malformed tickets are refused and audited, naming no ticket', async () => {
    for (const t of ['A'.repeat(43), 'short', '', 'x'.repeat(10_000), `${'A'.repeat(42)}=`]) {
      assert.deepEqual(await a.rdpTickets.redeem(t, WEB_IP), { redeemed: false, refusal: 'unknown' });
    }
    const unknown = (await a.store.repos.auditEvents.query({ type: 'rdp_ticket.refused', subject: 'rdp-ticket:unknown', limit: 10 }));
    assert.equal(unknown.length, 5);
    assert.deepEqual(JSON.parse(unknown[0]!.detail), { stage: 'redeem', refusal: 'unknown', ticket: null, deviceId: null, credentialId: null });
  });

  test('bound to its user: another user gets no ticket for a target not theirs, and cannot issue with a session not theirs', async () => {
    const bob = await webLogin('bob', '127.0.0.43');
    const ana = await webLogin('ana');
    const plain = (e: unknown) => isWardenError(e) && e.code === 'AUTH_FORBIDDEN' && e.message === 'not allowed' && e.details === undefined;
    await assert.rejects(issue(bob, 'win-direct'), plain);
    // Ids that do not exist: the same answer.
    await assert.rejects(issue(bob, 'win-direct', { deviceId: 999_999, credentialId: 999_998 }), plain);
    await assert.rejects(issue(ana, 'win-direct', { credentialId: cred['win-reason'] }), plain, 'a credential of another device');
    await assert.rejects(issue({ ...bob, userId: uid.ana!, username: 'ana' }, 'win-direct'), (e: unknown) => isWardenError(e) && e.code === 'AUTH_SESSION_INVALID');
    assert.ok((await refusals('issue')).some((d) => d.refusal === 'denied' && d.deviceId === dev['win-direct']));
    // The ticket names its user: whoever presents it is that user, and only from that user's address.
    const t = await redeemed((await issue(ana, 'win-direct')).ticket);
    assert.equal(t.userId, uid.ana);
  });

  test('the access decision at issue: approval first, a reason when required (carried to the session), RDP offered', async () => {
    const ana = await webLogin('ana');
    await assert.rejects(issue(ana, 'win-approval'), (e: unknown) => isWardenError(e) && e.code === 'AUTH_FORBIDDEN' && (e.details as { refusal: string }).refusal === 'needs-approval');
    await assert.rejects(issue(ana, 'ssh-only'), (e: unknown) => isWardenError(e) && e.code === 'AUTH_FORBIDDEN' && /device-offers-no-rdp/.test(String((e.details as { rule: string }).rule)));
    await assert.rejects(issue(ana, 'win-reason'), (e: unknown) => isWardenError(e) && e.code === 'INPUT_INVALID');
    const withReason = await issue(ana, 'win-reason', { reason: 'change 4711' });
    const t = await redeemed(withReason.ticket);
    assert.equal(t.reason, 'change 4711');
    const admission = await a.sessions.open({ ...t, protocol: 'rdp', source: t.source });
    assert.ok(admission.admitted, JSON.stringify(admission));
    assert.equal((await a.store.repos.proxySessions.byId(admission.session.id))!.reason, 'change 4711');
    await admission.session.close({ reason: 'test' });

    // After an approval the decision allows it: a grant makes a ticket.
    const boss = { username: 'bob', ip: '127.0.0.43', userId: uid.bob! };
    const request = await a.accessRequests.requestAccess({ username: 'ana', ip: WEB_IP, userId: uid.ana! }, { deviceId: dev['win-approval'], credentialId: cred['win-approval'], purpose: 'session', reason: 'maintenance window' });
    await a.accessRequests.decideRequest(boss, request.id, 'approve', 'ok');
    await redeemed((await issue(ana, 'win-approval')).ticket);
  });

  test('access revoked after issue: the redemption names the person, the session decision refuses', async () => {
    const dave = await webLogin('dave', '127.0.0.44');
    const { ticket } = await issue(dave, 'win-direct', { sourceIp: '127.0.0.44' });
    const g = (await a.accessGroups.groups()).find((x) => x.name === 'direct')!;
    const { id, ...fields } = g;
    await a.accessGroups.saveGroup(admin, { ...fields, userIds: (fields.userIds as number[]).filter((u) => u !== uid.dave) }, id);
    try {
      const t = await redeemed(ticket, '127.0.0.44');
      assert.deepEqual(await a.sessions.open({ ...t, protocol: 'rdp', source: t.source }), { admitted: false, refusal: { kind: 'denied' } });
    } finally {
      await a.accessGroups.saveGroup(admin, { ...fields }, id);
    }
  });

  test('a user disabled or locked after issue: refused at redemption, the ticket spent', async () => {
    const dave = await webLogin('dave', '127.0.0.44');
    const one = await issue(dave, 'win-direct');
    const two = await issue(dave, 'win-direct');
    await a.store.repos.users.update(uid.dave!, { locked_at: clock.now });
    assert.deepEqual(await a.rdpTickets.redeem(one.ticket, '127.0.0.44'), { redeemed: false, refusal: 'user-locked' });
    await a.store.repos.users.update(uid.dave!, { locked_at: null });
    assert.deepEqual(await a.rdpTickets.redeem(one.ticket, '127.0.0.44'), { redeemed: false, refusal: 'used' });
    await a.users.setStatus(admin, uid.dave!, 'disabled');
    try {
      assert.deepEqual(await a.rdpTickets.redeem(two.ticket, '127.0.0.44'), { redeemed: false, refusal: 'user-disabled' });
    } finally {
      await a.users.setStatus(admin, uid.dave!, 'active');
    }
    assert.deepEqual(await a.rdpTickets.redeem(two.ticket, '127.0.0.44'), { redeemed: false, refusal: 'used' });
  });

  test('forced certificate: a password web session gets no ticket; a certificate web session gets one the session gate accepts', async () => {
    const ana = await webLogin('ana');
    const carol = await webLogin('carol', '127.0.0.45');
    await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
    clock.advance(2000); // past the settings cache
    try {
      await assert.rejects(issue(ana, 'win-direct'), (e: unknown) => isWardenError(e) && e.code === 'AUTH_FORBIDDEN' && (e.details as { refusal: string }).refusal === 'certificate-required');
      assert.ok((await refusals('issue')).some((d) => d.refusal === 'certificate-required'));

      const { ticket } = await issue(carol, 'win-direct');
      const t = await redeemed(ticket, '127.0.0.45');
      const binding = (await a.certificates.list({ userId: uid.carol! }))[0]!;
      assert.deepEqual(t.authentication, { method: 'password+certificate', certificateFingerprint: binding.fingerprint });
      // Carol leaves the web: the ticket still carries her certificate login, which the gate judges.
      await a.auth.logout(carol.webSessionId, '127.0.0.45');
      const noProof = await a.sessions.open({ userId: t.userId, deviceId: t.deviceId, credentialId: t.credentialId, protocol: 'rdp', source: t.source });
      assert.deepEqual(noProof, { admitted: false, refusal: { kind: 'certificate-required', code: 'CERT_MISSING' } }, 'without the proof the gate looks for a web session');
      const admission = await a.sessions.open({ ...t, protocol: 'rdp', source: t.source });
      assert.ok(admission.admitted, JSON.stringify(admission));
      await admission.session.close({ reason: 'test' });

      // The binding revoked after the redemption: the same proof no longer opens a session.
      await a.certificates.revoke(binding.id, admin);
      const after = await a.sessions.open({ ...t, protocol: 'rdp', source: t.source });
      assert.equal(after.admitted === false && after.refusal.kind, 'certificate-required');
    } finally {
      await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
      clock.advance(2000);
    }
  });

  test('rows are purged at issue once expired for 10 minutes; a user holds at most a bounded number of unredeemed tickets', async () => {
    const ana = await webLogin('ana');
    const old = await issue(ana, 'win-direct');
    clock.advance(RDP_TICKET_TTL_MS + RDP_TICKET_RETENTION_MS - 1);
    await issue(ana, 'win-direct');
    assert.ok(await a.store.repos.rdpTickets.byHash(rdpTicketHash(old.ticket)), 'kept while a late replay should still read as expired');
    clock.advance(1);
    await issue(ana, 'win-direct');
    assert.equal(await a.store.repos.rdpTickets.byHash(rdpTicketHash(old.ticket)), undefined);
    assert.deepEqual(await a.rdpTickets.redeem(old.ticket, WEB_IP), { redeemed: false, refusal: 'unknown' });

    clock.advance(RDP_TICKET_TTL_MS);
    const again = await webLogin('ana');
    for (let i = 0; i < MAX_OUTSTANDING_RDP_TICKETS; i++) await issue(again, 'win-direct');
    await assert.rejects(issue(again, 'win-direct'), (e: unknown) => isWardenError(e) && e.code === 'AUTH_FORBIDDEN' && (e.details as { refusal: string }).refusal === 'too-many');
    clock.advance(RDP_TICKET_TTL_MS);
    await issue(again, 'win-direct');
  });
});
