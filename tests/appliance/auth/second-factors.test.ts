// TOTP and Duo as second factors, on a real appliance (SoftHSM token seals the secrets): TOTP ±1 step and
// never twice; the real Duo SDK against a server speaking Duo's protocol, with state and result checked.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { DuoService, DUO_HEALTH_CHECK_FAILED, TotpService } from '../../../appliance/auth/index.js';
import { AuthError, InputError, PolicyError } from '../../../appliance/errors/index.js';
import { initializedHome, ManualClock, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';
import { startFakeDuo, type FakeDuo } from '../../helpers/fake-duo.js';
import { closedPort, probeListener } from '../../helpers/net-probe.js';
import type { UserRow } from '../../../appliance/store/index.js';

const orbit = { username: 'orbit', ip: null };

async function code(p: Promise<unknown>, expected: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthError || e instanceof PolicyError, String(e));
    assert.equal((e as AuthError).code, expected);
    return true;
  });
}

describe('second factors on a real token', () => {
  let home: InitializedHome;
  let a: Appliance;
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 12, 0, 10));
  let duo: FakeDuo;
  let n = 0;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
    duo = await startFakeDuo();
  });
  after(async () => {
    await a?.close();
    await duo?.close();
    home?.cleanup();
  });

  async function user(method: 'totp' | 'duo'): Promise<UserRow> {
    n++;
    const { user } = await a.users.create(orbit, { username: `mfa${n}`, fullName: 'MFA user', email: `mfa${n}@example.test`, profile: 'auditor', password: strongPassword() });
    return a.users.setMfaMethod(orbit, user.id, method);
  }

  describe('TOTP', () => {
    test('enrolment gives an otpauth URI and a QR code; the secret is stored sealed', async () => {
      const u = await user('totp');
      const e = await a.totp.enrol(u);
      assert.match(e.otpauthUri, /^otpauth:\/\/totp\/Warden:mfa\d+\?secret=[A-Z2-7]+/);
      assert.match(e.qrCodeDataUrl, /^data:image\/png;base64,/);
      const row = await a.store.repos.totp.get(u.id);
      assert.ok(row);
      assert.equal(row.secret_sealed.includes(e.secret), false);
      assert.equal(Buffer.from(row.secret_sealed, 'base64').includes(Buffer.from(e.secret)), false, 'no clear secret in the database');
    });

    test('a code is accepted within ±1 step and never twice', async () => {
      const u = await user('totp');
      const { secret } = await a.totp.enrol(u);
      const now = clock.now;
      await a.totp.check(u, await TotpService.codeFor(secret, now));
      await code(a.totp.check(u, await TotpService.codeFor(secret, now)), 'MFA_TOTP_REPLAY');
      clock.advance(30_000);
      // The previous step's code (one step late) is past the last used step: refused as a replay.
      await code(a.totp.check(u, await TotpService.codeFor(secret, now)), 'MFA_TOTP_REPLAY');
      // The next step's code, one step early, is accepted.
      const early = await TotpService.codeFor(secret, clock.now + 30_000);
      await a.totp.check(u, early);
      // Once a later step was used, the current step's code is refused too: time only moves forward.
      await code(a.totp.check(u, await TotpService.codeFor(secret, clock.now)), 'MFA_TOTP_REPLAY');
    });

    test('codes two steps away are refused', async () => {
      const u = await user('totp');
      const { secret } = await a.totp.enrol(u);
      await code(a.totp.check(u, await TotpService.codeFor(secret, clock.now - 61_000)), 'MFA_TOTP_INVALID');
      await code(a.totp.check(u, await TotpService.codeFor(secret, clock.now + 61_000)), 'MFA_TOTP_INVALID');
      await code(a.totp.check(u, 'abcdef'), 'MFA_TOTP_INVALID');
      await code(a.totp.check(u, '1234567'), 'MFA_TOTP_INVALID');
      await a.totp.check(u, await TotpService.codeFor(secret, clock.now - 29_000));
    });

    test('a confirmed enrolment cannot be replaced without an administrator reset', async () => {
      const u = await user('totp');
      const { secret } = await a.totp.enrol(u);
      await a.totp.check(u, await TotpService.codeFor(secret, clock.now));
      await assert.rejects(a.totp.enrol(u), AuthError);
      await a.users.resetTotp(orbit, u.id);
      assert.equal(await a.totp.isEnrolled(u.id), false);
      await a.totp.enrol(u);
    });

    test('wrong codes at login count toward lockout', async () => {
      const pw = strongPassword();
      const { user: created } = await a.users.create(orbit, { username: `lock${n++}`, fullName: 'L', email: 'l@example.test', profile: 'auditor', password: pw });
      const u = await a.users.setMfaMethod(orbit, created.id, 'totp');
      await a.totp.enrol(u);
      for (let i = 0; i < 5; i++) {
        const s = await a.auth.login({ username: u.username, password: pw, ip: '192.0.2.5' }).catch(() => undefined);
        if (!s) break;
        const ctx = await a.auth.authenticate(s.token, '192.0.2.5');
        assert.equal(ctx.mfaRequired, 'totp');
        await assert.rejects(a.secondFactor.withTotp(ctx, '000000', '192.0.2.5'));
      }
      await code(a.auth.login({ username: u.username, password: pw, ip: '192.0.2.5' }), 'AUTH_LOCKED');
    });
  });

  describe('Duo Universal Prompt (real SDK, local Duo-protocol server)', () => {
    let service: DuoService;
    const redirect = 'https://127.0.0.1:8443/api/v1/auth/mfa/duo/callback';

    before(() => {
      service = new DuoService({ store: a.store, audit: a.audit, vault: a.vault, clock: clock.read, httpsAgent: new https.Agent({ ca: duo.caPem }), testApiHosts: [duo.apiHost] });
    });

    function provider(extra: Record<string, unknown> = {}) {
      return { name: 'Duo', enabled: true, apiHost: duo.apiHost, clientId: duo.clientId, clientSecret: duo.clientSecret, ...extra };
    }

    test('saving runs the health check; a wrong secret saves nothing', async () => {
      await code(service.save(orbit, provider({ clientSecret: 'x'.repeat(40) })), 'MFA_PROVIDER_INVALID');
      assert.equal((await service.list()).length, 0);
      duo.healthy = false;
      await code(service.save(orbit, provider()), 'MFA_PROVIDER_INVALID');
      duo.healthy = true;
      assert.equal((await service.list()).length, 0);
    });

    test('enabling the provider switches the session cookie to SameSite=Lax and says so', async () => {
      assert.equal(await service.cookieSameSite(), 'Strict');
      const r = await service.save(orbit, provider());
      assert.equal(r.sessionCookieSameSite, 'Lax');
      assert.equal(r.sameSiteChanged, true);
      assert.equal(r.provider.clientSecretSet, true);
      assert.equal(JSON.stringify(r).includes(duo.clientSecret), false, 'the secret never comes back');
      const row = (await a.store.repos.mfaProviders.all())[0]!;
      assert.equal(Buffer.from(row.client_secret_sealed, 'base64').includes(Buffer.from(duo.clientSecret)), false, 'sealed at rest');
      const again = await service.save(orbit, provider({ clientSecret: undefined, name: 'Duo EU' }), r.provider.id);
      assert.equal(again.sameSiteChanged, false);
      assert.equal(again.provider.name, 'Duo EU');
    });

    test('only Duo API host names are accepted: no port, no path, no user info', () => {
      for (const good of ['api-1a2b3c4d.duosecurity.com', 'API-DEADBEEF.DUOSECURITY.COM', 'api-abcdefgh12.duosecurity.com']) assert.equal(DuoService.isDuoApiHost(good), true, good);
      for (const bad of [
        'api-1a2b3c4d.duosecurity.com:443', 'api-1a2b3c4d.duosecurity.com/oauth', 'user@api-1a2b3c4d.duosecurity.com', 'api-1a2b3c4d.duosecurity.com.evil.test',
        'evil.test', 'localhost', 'localhost:8443', '127.0.0.1', 'api-.duosecurity.com', 'xapi-1a2b3c4d.duosecurity.com', 'api-1a2b3c4d.duosecurity.com.',
        'api-1a2b3c4d.duosecurity.com\n', 'api-1a2b.c3d4.duosecurity.com', 'https://api-1a2b3c4d.duosecurity.com',
      ]) {
        assert.equal(DuoService.isDuoApiHost(bad), false, JSON.stringify(bad));
      }
    });

    test('a host:port that is not Duo\'s is refused before any connection is made', async () => {
      const probe = await probeListener();
      try {
        for (const apiHost of [`127.0.0.1:${probe.port}`, `localhost:${probe.port}`, `LOCALHOST:${probe.port}`, `127.0.0.1`]) {
          await assert.rejects(service.save(orbit, provider({ apiHost })), (e: unknown) => e instanceof InputError && /Duo API host/.test(e.message), apiHost);
        }
        assert.equal(probe.connections, 0, 'nothing connected to the listener');
      } finally {
        await probe.close();
      }
    });

    test('every failed health check gives the same answer; the audit trail keeps the reason', async () => {
      const refused = await closedPort();
      const plain = await probeListener('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nnot Duo\n');
      const hosts = [duo.apiHost, `127.0.0.1:${refused}`, `127.0.0.1:${plain.port}`];
      const trusting = new DuoService({ store: a.store, audit: a.audit, vault: a.vault, clock: clock.read, httpsAgent: new https.Agent({ ca: duo.caPem }), testApiHosts: hosts });
      // No test CA: the fake Duo's self-signed certificate is untrusted.
      const pinned = new DuoService({ store: a.store, audit: a.audit, vault: a.vault, clock: clock.read, httpsAgent: new https.Agent(), testApiHosts: hosts });
      const failures: [string, () => Promise<unknown>][] = [
        ['a wrong client secret', () => trusting.save(orbit, provider({ name: 'wrong-secret', clientSecret: 'x'.repeat(40) }))],
        ['Duo answering unhealthy', async () => {
          duo.healthy = false;
          try {
            return await trusting.save(orbit, provider({ name: 'unhealthy' }));
          } finally {
            duo.healthy = true;
          }
        }],
        ['an untrusted certificate', () => pinned.save(orbit, provider({ name: 'untrusted' }))],
        ['a refused connection', () => trusting.save(orbit, provider({ name: 'refused', apiHost: `127.0.0.1:${refused}` }))],
        ['a server that does not speak TLS', () => trusting.save(orbit, provider({ name: 'plain', apiHost: `127.0.0.1:${plain.port}` }))],
      ];
      const answers: string[] = [];
      try {
        for (const [what, attempt] of failures) {
          await assert.rejects(attempt(), (e: unknown) => {
            assert.ok(e instanceof PolicyError, `${what}: ${String(e)}`);
            answers.push(JSON.stringify({ code: e.code, message: e.message, details: e.details ?? null }));
            return true;
          }, what);
        }
      } finally {
        await plain.close();
      }
      assert.equal(plain.connections, 1, 'the configured test host was reached');
      assert.deepEqual(new Set(answers), new Set([JSON.stringify({ code: 'MFA_PROVIDER_INVALID', message: DUO_HEALTH_CHECK_FAILED, details: null })]), answers.join('\n'));
      const rows = (await a.store.repos.auditEvents.query({ type: 'mfa.provider_save', limit: 50 })).filter((r) => r.outcome === 'failure');
      const reasons = new Map(rows.map((r) => [r.subject, JSON.parse(r.detail).reason as string]));
      for (const name of ['wrong-secret', 'unhealthy', 'untrusted', 'refused', 'plain']) assert.ok(reasons.get(name), `the audit trail has the reason for ${name}`);
      assert.equal(new Set(['wrong-secret', 'unhealthy', 'untrusted', 'refused', 'plain'].map((n) => reasons.get(n))).size, 5, [...reasons.values()].join('\n'));
      assert.equal((await service.list()).filter((p) => ['wrong-secret', 'unhealthy', 'untrusted', 'refused', 'plain'].includes(p.name)).length, 0, 'nothing saved');
    });

    test('invalid provider settings are refused before any network call', async () => {
      for (const bad of [provider({ clientId: 'short' }), provider({ clientSecret: 'short' }), provider({ apiHost: 'https://evil/' }), provider({ enabled: 'yes' })]) {
        await assert.rejects(service.save(orbit, bad));
      }
    });

    async function roundTrip(username: string, tamper?: (u: URL) => void): Promise<void> {
      const { url, state } = await service.start({ username }, redirect);
      const res = await new Promise<{ location: string }>((resolve, reject) => {
        https.get(url, { ca: duo.caPem }, (r) => {
          r.resume();
          resolve({ location: String(r.headers.location) });
        }).on('error', reject);
      });
      const back = new URL(res.location);
      tamper?.(back);
      await service.finish({ username }, { code: back.searchParams.get('duo_code') ?? '', state: back.searchParams.get('state') ?? '', expectedState: state, redirectUrl: redirect });
    }

    test('a stored provider naming a host that is not Duo\'s is refused at use, without a connection', async () => {
      const p = (await a.store.repos.mfaProviders.enabled('duo'))!;
      const probe = await probeListener();
      // As a row saved before API hosts were restricted would be.
      await a.store.repos.mfaProviders.update(p.id, { api_host: `127.0.0.1:${probe.port}` });
      try {
        await code(service.start({ username: 'zed' }, redirect), 'MFA_DUO_UNAVAILABLE');
        await code(service.finish({ username: 'zed' }, { code: 'c', state: 's'.repeat(36), expectedState: 's'.repeat(36), redirectUrl: redirect }), 'MFA_DUO_UNAVAILABLE');
      } finally {
        await a.store.repos.mfaProviders.update(p.id, { api_host: p.api_host });
        await probe.close();
      }
      assert.equal(probe.connections, 0);
    });

    test('an approved prompt completes', async () => {
      await roundTrip('alice');
    });

    test('a denied prompt is refused: the result is checked, not only the signature', async () => {
      duo.decisions.set('bob', 'deny');
      await code(roundTrip('bob'), 'MFA_DUO_DENIED');
    });

    test('a callback with another state is refused', async () => {
      await code(roundTrip('carol', (u) => u.searchParams.set('state', 'f'.repeat(36))), 'MFA_DUO_STATE');
    });

    test('a code for another user is refused by the SDK', async () => {
      const { url } = await service.start({ username: 'dave' }, redirect);
      const location = await new Promise<string>((resolve) => https.get(url, { ca: duo.caPem }, (r) => (r.resume(), resolve(String(r.headers.location)))));
      const back = new URL(location);
      const { state } = await service.start({ username: 'mallory' }, redirect);
      await code(service.finish({ username: 'mallory' }, { code: back.searchParams.get('duo_code')!, state, expectedState: state, redirectUrl: redirect }), 'MFA_DUO_DENIED');
    });

    test('Duo unreachable fails closed', async () => {
      duo.healthy = false;
      try {
        await code(service.start({ username: 'erin' }, redirect), 'MFA_DUO_UNAVAILABLE');
      } finally {
        duo.healthy = true;
      }
    });
  });
});
