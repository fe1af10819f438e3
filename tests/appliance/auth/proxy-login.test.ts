// The SSH door's person authentication (ProxyLogin), on a real appliance (SoftHSM token seals TOTP secrets):
// the web's rules (lockout, throttle, denylist, disabled, first-login change) with protocol 'ssh' on every
// audit row, TOTP by keyboard-interactive, registered keys with their query phase, Duo refused, and the
// lockout race with 25 parallel wrong passwords.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { authorizedKeyLine, MAX_STEPS_PER_CONNECTION, sshBlobOfKey, sshFingerprint, TotpService, type ProxyStep, type SshSignature } from '../../../appliance/auth/index.js';
import type { AuditEventRow, UserRow } from '../../../appliance/store/index.js';
import { initializedHome, ManualClock, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const orbit = { username: 'orbit', ip: null };

function newKey(): { blob: Buffer; line: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const blob = sshBlobOfKey(publicKey)!;
  return { blob, line: authorizedKeyLine(blob, 'test@laptop'), privateKey };
}

/** What an SSH client signs to log in with `key` (here: fresh data standing in for session id + request). */
function signedBy(key: { privateKey: KeyObject }): SshSignature {
  const blob = randomBytes(96);
  return { blob, signature: sign(null, blob, key.privateKey) };
}

describe('SSH person authentication (ProxyLogin)', () => {
  let home: InitializedHome;
  let a: Appliance;
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 12, 0, 10));
  let n = 0;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: clock.read });
    await a.settings.update({ lockout: { maxAttempts: 5, durationMinutes: 30 }, loginThrottle: { maxFailures: 10_000 } }, 'admin', null);
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  async function person(method: 'none' | 'totp' | 'duo' | 'certificate' = 'none', opts: { mustChange?: boolean } = {}): Promise<{ user: UserRow; password: string; secret?: string }> {
    const password = strongPassword();
    const { user } = await a.users.create(orbit, { username: `ssh${++n}`, fullName: 'SSH user', email: `ssh${n}@example.test`, profile: 'privileged-access-user', password });
    await a.store.repos.users.update(user.id, { must_change_password: opts.mustChange ?? false });
    if (method !== 'none') await a.users.setMfaMethod(orbit, user.id, method);
    let secret: string | undefined;
    if (method === 'totp') {
      secret = (await a.totp.enrol(user)).secret;
      // Confirm the enrolment as the first web login would, then move past that code's time step.
      await a.totp.check(user, await TotpService.codeFor(secret, clock.now));
      clock.advance(30_000);
    }
    return { user: (await a.store.repos.users.byId(user.id))!, password, ...(secret ? { secret } : {}) };
  }

  const begin = (username: string, ip = '127.0.0.5') => a.proxyLogins.begin({ username, ip, protocol: 'ssh' });
  const attempts = async (id: number) => (await a.store.repos.users.byId(id))!.failed_attempts;
  async function events(type: 'auth.login' | 'auth.mfa' | 'auth.proxy_login', subject: string): Promise<AuditEventRow[]> {
    return (await a.store.repos.auditEvents.query({ type, subject, limit: 100 })).reverse();
  }
  const detail = (row: AuditEventRow | undefined) => JSON.parse(row?.detail ?? '{}') as Record<string, unknown>;

  test('password only: success with method password, audited with protocol ssh at each step', async () => {
    const p = await person();
    const login = begin(p.user.username);
    assert.throws(() => login.result(), /not complete/);
    const step = await login.password(p.password);
    assert.equal(step.outcome, 'success');
    assert.deepEqual(login.result(), { userId: p.user.id, username: p.user.username, method: 'password' });
    const [ev] = await events('auth.login', p.user.username);
    assert.equal(ev!.outcome, 'success');
    assert.equal(detail(ev).protocol, 'ssh');
    const [done] = await events('auth.proxy_login', p.user.username);
    assert.deepEqual(detail(done), { protocol: 'ssh', method: 'password' });
    assert.notEqual((await a.store.repos.users.byId(p.user.id))!.last_login_at, null);
  });

  test('every failure looks the same to the client; the audit row says why, with protocol ssh', async () => {
    const p = await person();
    const wrong = await begin(p.user.username).password('Wrong-password-1');
    assert.deepEqual(wrong, { outcome: 'failure' });
    assert.equal(await attempts(p.user.id), 1);
    const unknown = await begin('no-such-person').password('whatever');
    assert.deepEqual(unknown, { outcome: 'failure' });
    const rows = await events('auth.login', p.user.username);
    assert.equal(rows.at(-1)!.code, 'AUTH_BAD_PASSWORD');
    assert.equal(detail(rows.at(-1)).protocol, 'ssh');
    assert.equal(detail(rows.at(-1)).attempts, 1);
    const ghost = await events('auth.login', 'no-such-person');
    assert.equal(ghost.at(-1)!.code, 'AUTH_UNKNOWN_USER');
    assert.equal(detail(ghost.at(-1)).protocol, 'ssh');

    await a.users.setStatus(orbit, p.user.id, 'disabled');
    assert.deepEqual(await begin(p.user.username).password(p.password), { outcome: 'failure' });
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_DISABLED');
    await a.users.setStatus(orbit, p.user.id, 'active');

    await a.settings.update({ ipDenylist: ['127.0.9.0/24'] }, 'admin', null);
    assert.deepEqual(await begin(p.user.username, '127.0.9.9').password(p.password), { outcome: 'failure' });
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_IP_DENIED');
    await a.settings.update({ ipDenylist: [] }, 'admin', null);
  });

  test('a locked account stays locked on SSH, with the right password or a registered key', async () => {
    const p = await person();
    const key = newKey();
    await a.sshKeys.add({ username: p.user.username, ip: '127.0.0.1' }, p.user.id, key.line);
    for (let i = 0; i < 5; i++) assert.equal((await begin(p.user.username).password(`Wrong-${i}`)).outcome, 'failure');
    assert.notEqual((await a.store.repos.users.byId(p.user.id))!.locked_at, null, 'five wrong SSH passwords lock the account, as on the web');
    assert.equal((await begin(p.user.username).password(p.password)).outcome, 'failure');
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_LOCKED');
    const login = begin(p.user.username);
    assert.deepEqual(await login.publicKey({ algo: 'ssh-ed25519', data: key.blob }), { outcome: 'acceptable' }, 'the query answers on the key alone (no account state leaks)');
    assert.equal((await login.publicKey({ algo: 'ssh-ed25519', data: key.blob }, signedBy(key))).outcome, 'failure');
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_LOCKED');
  });

  test('a lock whose time has passed is lifted at the next SSH login, as on the web', async () => {
    const p = await person();
    for (let i = 0; i < 5; i++) await begin(p.user.username).password(`Wrong-${i}`);
    assert.equal((await begin(p.user.username).password(p.password)).outcome, 'failure');
    clock.advance(31 * 60_000);
    assert.equal((await begin(p.user.username).password(p.password)).outcome, 'success');
    assert.equal((await a.store.repos.auditEvents.query({ type: 'auth.unlock', subject: p.user.username, limit: 5 })).length, 1);
    assert.equal(await attempts(p.user.id), 0);
  });

  test(`one connection is cut off after ${MAX_STEPS_PER_CONNECTION} judged steps: nothing more is judged, even the right password`, async () => {
    await a.settings.update({ lockout: { maxAttempts: 100 } }, 'admin', null);
    try {
      const p = await person();
      const login = begin(p.user.username);
      for (let i = 0; i < MAX_STEPS_PER_CONNECTION; i++) assert.equal((await login.password(`Wrong-${i}`)).outcome, 'failure');
      const before = (await events('auth.login', p.user.username)).length;
      assert.deepEqual(await login.password(p.password), { outcome: 'failure' });
      assert.equal((await events('auth.login', p.user.username)).length, before, 'not judged, so not audited');
      assert.equal((await begin(p.user.username).password(p.password)).outcome, 'success', 'a new connection is judged as usual');
    } finally {
      await a.settings.update({ lockout: { maxAttempts: 5 } }, 'admin', null);
    }
  });

  test('an account that must change its password first is refused on SSH with a notice; no failure is counted', async () => {
    const p = await person('none', { mustChange: true });
    const step = await begin(p.user.username).password(p.password);
    assert.equal(step.outcome, 'failure');
    assert.match((step as { notice?: string }).notice ?? '', /change its password in the web portal/);
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_PASSWORD_CHANGE_REQUIRED');
    assert.equal(await attempts(p.user.id), 0);
    // A wrong password gets no notice: the notice follows only a right factor.
    assert.deepEqual(await begin(p.user.username).password('Wrong-password-2'), { outcome: 'failure' });
  });

  test('TOTP: password, then the code; a wrong code counts toward lockout like the web; success resets the count', async () => {
    const p = await person('totp');
    const login = begin(p.user.username);
    assert.deepEqual(await login.totp('123456'), { outcome: 'failure' }, 'a code before the password is out of turn');
    assert.equal(await attempts(p.user.id), 0, 'and counts nothing');
    assert.deepEqual(await login.password(p.password), { outcome: 'continue', due: 'totp' });
    assert.equal(login.due, 'totp');
    const wrong = (Number(await TotpService.codeFor(p.secret!, clock.now)) + 1) % 1_000_000;
    assert.deepEqual(await login.totp(String(wrong).padStart(6, '0')), { outcome: 'failure' });
    assert.equal(await attempts(p.user.id), 1);
    const mfa = await events('auth.mfa', p.user.username);
    assert.equal(mfa.at(-1)!.code, 'MFA_TOTP_INVALID');
    assert.equal(detail(mfa.at(-1)).protocol, 'ssh');
    const ok = await login.totp(await TotpService.codeFor(p.secret!, clock.now));
    assert.equal(ok.outcome, 'success');
    assert.equal(login.result().method, 'password+totp');
    assert.equal(await attempts(p.user.id), 0);
    assert.equal(detail((await events('auth.proxy_login', p.user.username)).at(-1)).method, 'password+totp');
  });

  test('TOTP: five wrong codes lock the account; the right code after that is refused', async () => {
    const p = await person('totp');
    const login = begin(p.user.username);
    assert.equal((await login.password(p.password)).outcome, 'continue');
    for (let i = 0; i < 5; i++) assert.equal((await login.totp(String(100000 + i))).outcome, 'failure');
    assert.notEqual((await a.store.repos.users.byId(p.user.id))!.locked_at, null);
    clock.advance(30_000);
    assert.equal((await login.totp(await TotpService.codeFor(p.secret!, clock.now))).outcome, 'failure');
    assert.equal((await events('auth.mfa', p.user.username)).at(-1)!.code, 'AUTH_LOCKED');
  });

  test('TOTP not yet enrolled, and Duo: refused after the right password, with a notice pointing to the web', async () => {
    const t = await person('none');
    await a.users.setMfaMethod(orbit, t.user.id, 'totp');
    const s1 = await begin(t.user.username).password(t.password);
    assert.match((s1 as { notice?: string }).notice ?? '', /enrol/);
    assert.equal((await events('auth.login', t.user.username)).at(-1)!.code, 'MFA_TOTP_NOT_ENROLLED');
    const d = await person('duo');
    const s2 = await begin(d.user.username).password(d.password);
    assert.equal(s2.outcome, 'failure');
    assert.match((s2 as { notice?: string }).notice ?? '', /Duo/);
    assert.equal((await events('auth.login', d.user.username)).at(-1)!.code, 'AUTH_FACTOR_UNAVAILABLE');
    assert.equal(await attempts(d.user.id), 0);
  });

  test('a registered key: the query phase counts nothing; a verified signature logs in a single-factor account', async () => {
    const p = await person();
    const key = newKey();
    const other = newKey();
    const view = await a.sshKeys.add({ username: p.user.username, ip: '127.0.0.1' }, p.user.id, key.line);
    assert.equal(view.fingerprint, sshFingerprint(key.blob));
    const login = begin(p.user.username);
    for (let i = 0; i < 8; i++) assert.deepEqual(await login.publicKey({ algo: 'ssh-ed25519', data: newKey().blob }), { outcome: 'failure' });
    assert.equal(await attempts(p.user.id), 0, 'clients try several keys: unknown keys in the query phase are no failures');
    assert.equal((await events('auth.login', p.user.username)).length, 0, 'and leave no audit rows');
    assert.deepEqual(await login.publicKey({ algo: 'ssh-ed25519', data: key.blob }), { outcome: 'acceptable' });
    const step = await login.publicKey({ algo: 'ssh-ed25519', data: key.blob }, signedBy(key));
    assert.equal(step.outcome, 'success');
    assert.deepEqual(login.result(), { userId: p.user.id, username: p.user.username, method: 'publickey', keyFingerprint: view.fingerprint });
    const ev = (await events('auth.login', p.user.username)).at(-1)!;
    assert.deepEqual([ev.outcome, detail(ev).method, detail(ev).fingerprint, detail(ev).protocol], ['success', 'publickey', view.fingerprint, 'ssh']);
    assert.notEqual((await a.sshKeys.list(p.user.id))[0]!.lastUsedAt, null);
    // A signature with a key that is not registered is a failed attempt, like a wrong password.
    assert.equal((await begin(p.user.username).publicKey({ algo: 'ssh-ed25519', data: other.blob }, signedBy(other))).outcome, 'failure');
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_KEY_UNKNOWN');
    assert.equal(await attempts(p.user.id), 1);
    // A signature that does not verify with the offered key is a failed attempt too.
    assert.equal((await begin(p.user.username).publicKey({ algo: 'ssh-ed25519', data: key.blob }, signedBy(other))).outcome, 'failure');
    assert.equal((await events('auth.login', p.user.username)).at(-1)!.code, 'AUTH_SIGNATURE_INVALID');
    assert.equal(await attempts(p.user.id), 2);
    // A removed key stops working at once.
    await a.sshKeys.remove({ username: 'admin', ip: '127.0.0.1' }, p.user.id, view.id);
    assert.deepEqual(await begin(p.user.username).publicKey({ algo: 'ssh-ed25519', data: key.blob }), { outcome: 'failure' });
  });

  test('a registered key is one factor: a TOTP account adds its code, unless ssh.allowPublicKeyAsSoleFactor', async () => {
    const p = await person('totp');
    const key = newKey();
    await a.sshKeys.add({ username: p.user.username, ip: '127.0.0.1' }, p.user.id, key.line);
    const login = begin(p.user.username);
    assert.deepEqual(await login.publicKey({ algo: 'ssh-ed25519', data: key.blob }, signedBy(key)), { outcome: 'continue', due: 'totp' });
    assert.equal((await login.password(p.password)).outcome, 'failure', 'after the key, only the TOTP code is due');
    assert.equal((await login.totp(await TotpService.codeFor(p.secret!, clock.now))).outcome, 'success');
    assert.equal(login.result().method, 'publickey+totp');

    await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: true } }, 'admin', null);
    try {
      const alone = begin(p.user.username);
      assert.equal((await alone.publicKey({ algo: 'ssh-ed25519', data: key.blob }, signedBy(key))).outcome, 'success');
      assert.equal(alone.result().method, 'publickey');
    } finally {
      await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: false } }, 'admin', null);
    }
  });

  for (const position of [0, 12, 25]) {
    test(`the lockout race on SSH: 25 wrong passwords at once with the right one at position ${position}; at most 5 are judged, never a login on a locked account`, async () => {
      const p = await person();
      const guesses = Array.from({ length: 26 }, (_, i) => (i === position ? p.password : `Wrong-Guess-${i}-x`));
      const steps: ProxyStep[] = await Promise.all(guesses.map((pw, i) => begin(p.user.username, `127.0.${n}.${i + 1}`).password(pw)));
      const rows = (await events('auth.login', p.user.username)).filter((r) => r.outcome === 'failure');
      const codes = rows.map((r) => r.code);
      const judged = codes.filter((c) => c === 'AUTH_BAD_PASSWORD').length + steps.filter((s) => s.outcome === 'success').length;
      assert.ok(judged <= 5, `only the account's 5 attempts may reach the password check: ${codes.join(' ')}`);
      assert.ok(codes.every((c) => c === 'AUTH_BAD_PASSWORD' || c === 'AUTH_LOCKED'), codes.join(' '));
      const user = (await a.store.repos.users.byId(p.user.id))!;
      const successes = steps.filter((s) => s.outcome === 'success').length;
      if (user.locked_at !== null) {
        // A success may have been admitted before the lock; never after it.
        const done = await events('auth.proxy_login', p.user.username);
        for (const d of done) assert.ok(Number(d.ts) <= user.locked_at, 'no login admitted after the lock');
        assert.ok(successes <= 1);
      } else {
        assert.equal(successes, 1, 'the right password won its place among the first attempts');
      }
      assert.ok((await a.store.repos.auditEvents.query({ type: 'auth.lockout', subject: p.user.username, limit: 10 })).length <= 1);
    });
  }
});
