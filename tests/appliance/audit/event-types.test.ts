// The catalogue of audit event types: every type the code writes is declared there, codes are unique and never
// renumbered, severities are valid, and the compiler and the trail both refuse what is not declared.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsFiles } from '../../helpers/source-files.js';
import { services, type Services } from '../../helpers/fixtures.js';
import { auditEventType, auditEventTypes, classifyAuditRow, detailProblems, isAuditEventType, SEVERITIES, type AuditEvent, type AuditTrail } from '../../../appliance/audit/index.js';
import { redact } from '../../../appliance/log/index.js';
import { actorEvent, type Actor } from '../../../appliance/access/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/**
 * Released codes. A type may be added (with a new code); none may change or vanish: SIEM rules and reports
 * written against a code must keep meaning the same event. Edit this list only to append.
 */
const RELEASED_CODES: Record<string, string> = {
  'auth.login': 'W1000',
  'auth.logout': 'W1001',
  'auth.lockout': 'W1002',
  'auth.throttle': 'W1003',
  'auth.unlock': 'W1004',
  'auth.mfa': 'W1005',
  'auth.password_change': 'W1006',
  'auth.totp_enrol': 'W1007',
  'auth.proxy_login': 'W1050',
  'session.start': 'W2000',
  'session.end': 'W2001',
  'session.refused': 'W2002',
  'session.end_requested': 'W2003',
  'recording.start': 'W2100',
  'recording.end': 'W2101',
  'recording.view': 'W2102',
  'recording.verify': 'W2103',
  'session.command_blocked': 'W2120',
  'session.command_alert': 'W2121',
  'session.channel_refused': 'W2140',
  'session.port_forward': 'W2170',
  'session.agent_forward': 'W2180',
  'session.login_refused': 'W2141',
  'session.interrupted': 'W2160',
  'rdp_ticket.issued': 'W2190',
  'rdp_ticket.redeemed': 'W2191',
  'rdp_ticket.refused': 'W2192',
  'system.network': 'W2200',
  'system.dns': 'W2201',
  'system.hostname': 'W2202',
  'system.ntp': 'W2203',
  'system.timezone': 'W2204',
  'system.web_certificate': 'W2205',
  'system.web_csr': 'W2206',
  'system.service_restart': 'W2207',
  'system.setup': 'W2210',
  'console.login': 'W2211',
  'cluster.initialized': 'W2220',
  'cluster.joined': 'W2221',
  'cluster.left': 'W2222',
  'cluster.bootstrapped': 'W2223',
  'recording.fetched': 'W2230',
  'recording.fetch_failed': 'W2231',
  'recording.served': 'W2232',
  'recording.serve_refused': 'W2233',
  'cluster.secret_created': 'W2234',
  'cluster.node_pin_updated': 'W2235',
  'cluster.peers_allowed': 'W2236',
  'access.request': 'W3000',
  'access.approve': 'W3001',
  'access.deny': 'W3002',
  'access.emergency': 'W3003',
  'access.grant_expired': 'W3004',
  'access_group.create': 'W3100',
  'access_group.update': 'W3101',
  'access_group.command_rules': 'W3200',
  'access_group.member_add': 'W2250',
  'access_group.member_remove': 'W2251',
  'device.create': 'W4000',
  'device.update': 'W4001',
  'device.enable': 'W4002',
  'device.disable': 'W4003',
  'device.import': 'W4004',
  'device.host_key_pinned': 'W4005',
  'device.host_key_mismatch': 'W4006',
  'device.host_key_reset': 'W4007',
  'device.connectivity_alert': 'W4008',
  'device.connectivity_check': 'W2240',
  'credential.create': 'W4100',
  'credential.update': 'W4101',
  'credential.enable': 'W4102',
  'credential.disable': 'W4103',
  'credential.rotate': 'W4104',
  'credential.status_check': 'W4105',
  'credential.reconcile': 'W4106',
  'credential.password_template': 'W4107',
  'credential.checkout': 'W4108',
  'credential.checkin': 'W4109',
  'discovery.run': 'W4110',
  'discovery.import': 'W4111',
  'discovery.dismiss': 'W4112',
  'vault.password_view': 'W5000',
  'vault.protected_view': 'W5001',
  'vault.protected_store': 'W5002',
  'vault.protected_owner': 'W5003',
  'pki.ca_install': 'W6000',
  'pki.ca_enable': 'W6001',
  'pki.ca_disable': 'W6002',
  'pki.crl_install': 'W6003',
  'pki.cert_bind': 'W6004',
  'pki.cert_revoke': 'W6005',
  'user.create': 'W7000',
  'user.enable': 'W7001',
  'user.disable': 'W7002',
  'user.unlock': 'W7003',
  'user.mfa_method': 'W7004',
  'user.totp_reset': 'W7005',
  'user.reset_password': 'W7006',
  'user.ssh_key_add': 'W7050',
  'user.ssh_key_remove': 'W7051',
  'settings.change': 'W8000',
  'mfa.provider_save': 'W8001',
  'appliance.init': 'W9000',
  'keys.rotate': 'W9001',
  'backup.create': 'W9002',
  'backup.restore': 'W9003',
};


const EVENT_LITERAL = /'([a-z][a-z_]*(?:\.[a-z_]+)+)'/g;

/**
 * The dotted literals a source passes as an audit event type: the value of a `type:` member (a literal, or
 * either branch of a conditional) and the first argument of `actorEvent(...)`. A second net under the
 * compiler, for a type that reached a call through a cast or a `string`.
 */
function eventTypesIn(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/\btype:\s*([^,\n}]*)/g)) for (const l of m[1]!.matchAll(EVENT_LITERAL)) out.push(l[1]!);
  for (const m of src.matchAll(/\bactorEvent\(\s*([^,]*)/g)) for (const l of m[1]!.matchAll(EVENT_LITERAL)) out.push(l[1]!);
  return out;
}

function productSources(): { file: string; src: string }[] {
  return ['appliance', 'daemons', 'cli'].flatMap((d) => tsFiles(path.join(root, d))).map((file) => ({ file: path.relative(root, file), src: readFileSync(file, 'utf8') }));
}

describe('the catalogue of audit event types', () => {
  test('every event type written anywhere in appliance/, daemons/ and cli/ is declared', () => {
    const sources = productSources();
    assert.ok(sources.length > 50, 'the scan sees the sources');
    const undeclared = sources.flatMap(({ file, src }) => eventTypesIn(src).filter((t) => !isAuditEventType(t)).map((t) => `${file}: ${t}`));
    assert.deepEqual(undeclared, []);
  });

  test('the scan fails on an undeclared literal type, in each form it recognizes', () => {
    const forms = [
      "await audit.record({ type: 'auth.sneaky', outcome: 'info' });",
      "await this.audited({ type: ok ? 'device.enable' : 'device.vanish', actor, subject });",
      "actorEvent('user.sneaky', actor, name, undefined)",
    ];
    for (const src of forms) assert.equal(eventTypesIn(src).filter((t) => !isAuditEventType(t)).length, 1, src);
    // Dotted strings that are not event types (JSON schema kinds, permissions) are not taken for one.
    assert.deepEqual(eventTypesIn("schema: { type: 'object' }, config: { permission: 'audit.read' }"), []);
  });

  test('every declared type is written somewhere: the catalogue describes what the appliance emits', () => {
    const used = new Set(productSources().flatMap(({ src }) => eventTypesIn(src)));
    assert.deepEqual(auditEventTypes().map((t) => t.type).filter((t) => !used.has(t)), []);
  });

  test('released codes never change, and every type has one', () => {
    const now = Object.fromEntries(auditEventTypes().map((t) => [t.type, t.code]));
    for (const [type, code] of Object.entries(RELEASED_CODES)) assert.equal(now[type], code, `${type} keeps ${code}`);
    assert.deepEqual(Object.keys(now).filter((t) => !(t in RELEASED_CODES)), [], 'a new type is added to RELEASED_CODES with its code');
  });

  test('codes are unique and well formed; severities and field kinds are valid; each type is described', () => {
    const types = auditEventTypes();
    assert.equal(new Set(types.map((t) => t.code)).size, types.length, 'no two types share a code');
    for (const t of types) {
      assert.match(t.code, /^W[1-9]\d{3}$/, t.type);
      assert.ok((SEVERITIES as readonly string[]).includes(t.severity), `${t.type}: ${t.severity}`);
      assert.ok((SEVERITIES as readonly string[]).includes(t.failureSeverity), `${t.type}: ${t.failureSeverity}`);
      assert.ok(t.description.length >= 10 && !t.description.includes('\n'), `${t.type} has a one-line description`);
      for (const [field, kind] of Object.entries(t.detail)) assert.match(kind, /^(string|number|boolean|object|string\[\]|object\[\])(\|null)?\??$/, `${t.type}.${field}`);
    }
  });

  test('no declared field is one the trail redacts: its row would hold "[REDACTED]" instead of the declared kind', () => {
    for (const t of auditEventTypes()) for (const field of Object.keys(t.detail)) assert.deepEqual(redact({ [field]: 1 }), { [field]: 1 }, `${t.type}.${field}`);
  });

  test('the severities the issue names: break-glass and a changed host key are high, a lockout is medium', () => {
    assert.equal(auditEventType('access.emergency')?.severity, 'high');
    assert.equal(auditEventType('access.emergency')?.failureSeverity, 'high');
    assert.equal(auditEventType('device.host_key_mismatch')?.severity, 'high');
    assert.equal(auditEventType('auth.lockout')?.severity, 'medium');
  });

  test('a row is classified by its type and outcome; a type this release does not know is kept, unclassified', () => {
    assert.deepEqual(classifyAuditRow({ type: 'auth.login', outcome: 'success' }), { eventCode: 'W1000', severity: 'info' });
    assert.deepEqual(classifyAuditRow({ type: 'auth.login', outcome: 'failure' }), { eventCode: 'W1000', severity: 'low' });
    assert.deepEqual(classifyAuditRow({ type: 'auth.from_a_newer_release', outcome: 'info' }), { eventCode: null, severity: null });
    assert.equal(isAuditEventType('toString'), false, 'an inherited property is not a type');
  });
});

describe('the trail refuses an undeclared type', () => {
  let s: Services;
  before(async () => {
    s = await services();
  });
  after(async () => s.close());

  test('a cast past the compiler is refused at write time, and nothing is written', async () => {
    const smuggled = { type: 'auth.smuggled', outcome: 'info' } as unknown as AuditEvent;
    await assert.rejects(s.audit.record(smuggled), (e: unknown) => isWardenError(e) && e.code === 'INPUT_INVALID' && /not declared/.test(e.message));
    await assert.rejects(s.audit.withChange(smuggled, async (repos) => repos.meta.set('smuggled', 'yes')));
    assert.equal(await s.store.repos.meta.get('smuggled'), undefined, 'the change rolled back with its refused event');
    assert.equal((await s.store.repos.auditEvents.query({ type: 'auth.smuggled', limit: 1 })).length, 0);
    assert.deepEqual(await s.audit.verify(), { ok: true, rows: 0, lastSeq: 0, anchors: 0, nodes: {} });
  });

  test('a detail that does not match its declaration is refused, naming the fields, never their values', async () => {
    const extra: Record<string, unknown> = { password: 'hunter2' };
    // A spread or a variable passes the compiler's excess-property check; the trail still refuses it.
    await assert.rejects(
      s.audit.record({ type: 'auth.lockout', outcome: 'failure', detail: { attempts: 3, durationMinutes: 5, ...extra } }),
      (e: unknown) => isWardenError(e) && e.code === 'INPUT_INVALID' && /password is not declared/.test(e.message) && !e.message.includes('hunter2'),
    );
    const wrongKind = { type: 'auth.lockout', outcome: 'failure', detail: { attempts: '3', durationMinutes: 5 } } as unknown as AuditEvent;
    await assert.rejects(s.audit.record(wrongKind), /attempts is not number/);
    assert.deepEqual(detailProblems('auth.lockout', { attempts: 3 }), ['durationMinutes is not number']);
    assert.deepEqual(detailProblems('session.end', { reason: 'closed', exitStatus: null, session: undefined }), [], 'null where declared, optional fields absent');
    assert.deepEqual(detailProblems('pki.ca_install', { fingerprints: ['ab', 3] }), ['fingerprints is not string[]?']);
    assert.equal((await s.store.repos.auditEvents.query({ type: 'auth.lockout', limit: 1 })).length, 0);
  });

  test('a declared type is written as before', async () => {
    const row = await s.audit.record({ type: 'auth.lockout', outcome: 'failure', actor: 'system', subject: 'ana', code: 'AUTH_LOCKED', detail: { attempts: 5, durationMinutes: 15 } });
    assert.equal(row.type, 'auth.lockout');
    assert.deepEqual(classifyAuditRow(row), { eventCode: 'W1002', severity: 'medium' });
  });
});

// Never run: it exists for the compiler. Each @ts-expect-error line must be an error, or the build fails; so
// the build proves that undeclared types and wrong details do not compile, at each kind of call site.
export function refusedByTheCompiler(trail: AuditTrail, actor: Actor): void {
  // @ts-expect-error an undeclared type
  void trail.record({ type: 'auth.bogus', outcome: 'info' });
  // @ts-expect-error a field the type does not declare
  void trail.record({ type: 'auth.lockout', outcome: 'failure', detail: { attempts: 3, durationMinutes: 5, password: 'x' } });
  // @ts-expect-error a declared field of the wrong kind
  void trail.record({ type: 'auth.lockout', outcome: 'failure', detail: { attempts: '3', durationMinutes: 5 } });
  // @ts-expect-error a required field missing
  void trail.record({ type: 'auth.lockout', outcome: 'failure', detail: { attempts: 3 } });
  // @ts-expect-error the detail of a type that requires one, left out
  void trail.record({ type: 'auth.lockout', outcome: 'failure' });
  // @ts-expect-error the detail of another type
  void trail.record({ type: 'auth.lockout', outcome: 'failure', detail: { method: 'totp' } });
  // @ts-expect-error an outcome that does not exist
  void trail.record({ type: 'auth.logout', outcome: 'maybe', detail: { reason: 'logout' } });
  // @ts-expect-error an undeclared type with its change
  void trail.withChange({ type: 'user.vanish', outcome: 'success' }, async () => undefined);
  // @ts-expect-error a type made up at run time
  void trail.record({ type: String('auth.login'), outcome: 'info' });
  // @ts-expect-error an undeclared type through the actor helper
  void trail.record(actorEvent('device.vanish', actor, 'db01', undefined));
  // @ts-expect-error a wrong detail through the actor helper
  void trail.record(actorEvent('device.update', actor, 'db01', { id: 'one' }));
  // @ts-expect-error a required detail left out through the actor helper
  void trail.record(actorEvent('device.update', actor, 'db01', undefined));

  // What does compile: each type with its own detail; optional fields may be left out.
  void trail.record({ type: 'auth.lockout', outcome: 'failure', detail: { attempts: 3, durationMinutes: 5 } });
  void trail.record({ type: 'auth.login', outcome: 'failure', code: 'AUTH_BAD_PASSWORD', detail: { reason: 'wrong password', attempts: 2 } });
  void trail.record({ type: 'user.totp_reset', outcome: 'success' });
  void trail.record(actorEvent('device.update', actor, 'db01', { id: 1 }));
}
