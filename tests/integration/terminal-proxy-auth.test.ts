// Authenticating the Warden user on the terminal proxy, end to end: the daemon as a process, a real sshd
// target, and real OpenSSH `ssh` as the client, answering its prompts through SSH_ASKPASS (a script that
// answers by the prompt's text: the card's PIN, the password, the verification code) — password + TOTP over
// keyboard-interactive and over the password method, a wrong code, a locked account, a registered key with and
// without ssh.allowPublicKeyAsSoleFactor, the smart card's key from a SoftHSM token (`ssh -I`), forced-certificate
// mode, the core's notices, the pinned login name, and the audit trail with protocol 'ssh' on every row.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthContext, Connection } from 'ssh2';
import type { Appliance } from '../../appliance/index.js';
import { TotpService } from '../../appliance/auth/index.js';
import type { AuditEventRow, MfaMethod, UserRow } from '../../appliance/store/index.js';
import { CoreAuthenticator } from '../../daemons/terminal-proxy/authenticator.js';
import { tempDir } from '../helpers/fixtures.js';
import { createCa, der, issueLeaf } from '../helpers/pki.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { runSsh, type RunningProxy } from '../helpers/terminal-proxy.js';

const HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers');
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const admin = { username: 'admin', ip: '127.0.0.1' };
// Its own target account: other test files use theirs, with other passwords, on the same machine.
const TARGET_USER = 'wauth2';
const PERIOD_MS = 30_000;
/** Where this test's one web login comes from. */
const WEB_IP = '127.0.0.9';

/** What an OpenSSH client offers and answers. Nothing here depends on the user's ~/.ssh (HOME is empty). */
interface ClientSetup {
  /** PreferredAuthentications. */
  preferred: string;
  password?: string;
  /** Computed just before the client starts (a TOTP code). */
  code?: () => Promise<string>;
  /** A private key file (`-i KEY -o IdentitiesOnly=yes`). */
  key?: string;
  /** The smart card (`-I libsofthsm2.so`, the client's own SOFTHSM2_CONF) and its PIN. */
  card?: { conf: string; pin: string };
  extra?: string[];
}

interface SshRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The prompts OpenSSH asked the askpass script, in order. */
  prompts: string[];
}

describe('terminal proxy: authenticating the Warden user (OpenSSH client, real sshd target)', { timeout: 300_000 }, () => {
  let lab: ProxyLab;
  let proxy: RunningProxy;
  let a: Appliance;
  const work = tempDir('warden-proxyauth-');
  const users: Record<string, { user: UserRow; password: string; secret?: string; lastStep?: number }> = {};
  let runs = 0;

  async function newUser(name: string, mfa: MfaMethod | null, opts: { mustChange?: boolean } = {}): Promise<UserRow> {
    const { row, password } = await lab.addUser(name, { password: 'kept', mfa, mustChange: opts.mustChange ?? false });
    users[name] = { user: row, password };
    if (mfa === 'totp') {
      const { secret } = await a.totp.enrol(row);
      // Confirmed as the first web login would, with the previous step's code: this step and the next stay free.
      const step = Math.floor(Date.now() / PERIOD_MS) - 1;
      await a.totp.check(row, await TotpService.codeFor(secret, step * PERIOD_MS));
      Object.assign(users[name]!, { secret, lastStep: step });
    }
    return row;
  }

  /** The next TOTP code the appliance will take for `name` (each step once; within ±1 step of now). */
  async function nextCode(name: string): Promise<string> {
    const u = users[name]!;
    let now = Math.floor(Date.now() / PERIOD_MS);
    if (u.lastStep! + 1 > now + 1) {
      await new Promise((r) => setTimeout(r, (now + 1) * PERIOD_MS - Date.now() + 200));
      now = Math.floor(Date.now() / PERIOD_MS);
    }
    const step = Math.max(u.lastStep! + 1, now - 1);
    u.lastStep = step;
    return TotpService.codeFor(u.secret!, step * PERIOD_MS);
  }

  function wrongCode(right: string): string {
    return String((Number(right) + 1) % 1_000_000).padStart(6, '0');
  }

  /** `ssh -p PROXY -l LOGIN 127.0.0.1 COMMAND`, prompts answered by an askpass script that records them. */
  async function ssh(login: string, command: string, setup: ClientSetup): Promise<SshRun> {
    const dir = path.join(work.dir, `run${++runs}`);
    mkdirSync(dir);
    if (setup.password !== undefined) writeFileSync(path.join(dir, 'password'), `${setup.password}\n`);
    if (setup.card) writeFileSync(path.join(dir, 'pin'), `${setup.card.pin}\n`);
    if (setup.code) writeFileSync(path.join(dir, 'code'), `${await setup.code()}\n`);
    const askpass = path.join(dir, 'askpass');
    // No answer file: exit 1, which OpenSSH takes as "cancelled".
    writeFileSync(
      askpass,
      `#!/bin/sh\nprintf '%s\\n' "$1" >> '${dir}/prompts'\ncase "$1" in\n  *PIN*) f=pin;;\n  *erification*) f=code;;\n  *assword*) f=password;;\n  *) exit 1;;\nesac\n[ -f '${dir}/'$f ] || exit 1\ncat '${dir}/'$f\n`,
      { mode: 0o700 },
    );
    const args = [
      '-F', '/dev/null',
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentityAgent=none',
      '-o', `PreferredAuthentications=${setup.preferred}`,
      ...(setup.key ? ['-i', setup.key, '-o', 'IdentitiesOnly=yes'] : setup.card ? ['-I', SOFTHSM] : ['-o', 'PubkeyAuthentication=no']),
      ...(setup.extra ?? []),
      '-p', String(proxy.port), '-l', login, '127.0.0.1', command,
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    if (setup.card) env.SOFTHSM2_CONF = setup.card.conf;
    else delete env.SOFTHSM2_CONF;
    const { code, stdout, stderr } = await runSsh(args, env);
    const prompts = existsSync(path.join(dir, 'prompts')) ? readFileSync(path.join(dir, 'prompts'), 'utf8').split('\n').filter((l) => l !== '') : [];
    rmSync(dir, { recursive: true, force: true });
    return { code, stdout, stderr, prompts };
  }

  async function events(type: 'auth.login' | 'auth.mfa' | 'auth.proxy_login', subject: string): Promise<AuditEventRow[]> {
    return (await a.store.repos.auditEvents.query({ type, subject, limit: 200 })).reverse();
  }
  const detail = (row: AuditEventRow | undefined) => JSON.parse(row?.detail ?? '{}') as Record<string, unknown>;
  const attempts = async (name: string) => (await a.store.repos.users.byId(users[name]!.user.id))!.failed_attempts;
  /** The change feed carries a settings change to the daemon within its poll interval (200 ms). */
  async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 800));
  }
  /** OpenSSH's one failure line, without the parts that name the user. */
  const failureLine = (stderr: string) => stderr.split('\n').filter((l) => /Permission denied/.test(l)).map((l) => l.trim().replace(/^.*?(?=Permission denied)/, ''));

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      // All clients come from 127.0.0.1: the per-address throttle would otherwise stop the tests, not the accounts.
      settings: { lockout: { maxAttempts: 5, durationMinutes: 30 }, loginThrottle: { maxFailures: 10_000 } },
      hosts: ['db01'],
      startProxy: false,
    });
    a = lab.a;
    const members = [['tina', 'totp'], ['tom', 'totp'], ['carol', 'certificate'], ['lou', null], ['kai', null]] as const;
    for (const [name, mfa] of members) await newUser(name, mfa);
    await lab.addGroup({ name: 'auth-ops', users: members.map(([name]) => name), hosts: ['db01'] });
    proxy = await lab.startProxy();
  });

  after(async () => {
    await lab?.stop();
    work.cleanup();
  });

  test('password, then the TOTP code, both over keyboard-interactive: a session on the target, audited with protocol ssh', async () => {
    const r = await ssh(`tina:${TARGET_USER}@db01`, 'id -un', { preferred: 'keyboard-interactive', password: users.tina!.password, code: () => nextCode('tina') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), TARGET_USER);
    assert.equal(r.prompts.length, 2, r.prompts.join(' | '));
    assert.match(r.prompts[0]!, /Password: $/);
    assert.match(r.prompts[1]!, /Verification code: $/);
    const login = (await events('auth.login', 'tina')).at(-1)!;
    assert.deepEqual([login.outcome, detail(login).protocol, detail(login).secondFactorDue], ['success', 'ssh', 'totp']);
    const mfa = (await events('auth.mfa', 'tina')).at(-1)!;
    assert.deepEqual([mfa.outcome, detail(mfa).method, detail(mfa).protocol], ['success', 'totp', 'ssh']);
    assert.deepEqual(detail((await events('auth.proxy_login', 'tina')).at(-1)), { protocol: 'ssh', method: 'password+totp' });
  });

  test('the password over the password method (as sshpass types it), then the code over keyboard-interactive', async () => {
    const r = await ssh(`tina:${TARGET_USER}@db01`, 'echo two-methods', { preferred: 'password,keyboard-interactive', password: users.tina!.password, code: () => nextCode('tina') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'two-methods\n');
    assert.match(r.prompts[0]!, /password: $/, 'the password method\'s own prompt');
    assert.match(r.prompts[1]!, /Verification code: $/);
    assert.equal(detail((await events('auth.proxy_login', 'tina')).at(-1)).method, 'password+totp');
  });

  test('a wrong TOTP code: the generic failure, counted toward the lockout, the reason only in the audit trail', async () => {
    const before = await attempts('tina');
    const mfaBefore = (await events('auth.mfa', 'tina')).length;
    const r = await ssh(`tina:${TARGET_USER}@db01`, 'echo must-not-run', { preferred: 'keyboard-interactive', password: users.tina!.password, code: async () => wrongCode(await TotpService.codeFor(users.tina!.secret!, Date.now())) });
    assert.equal(r.code, 255);
    assert.equal(r.stdout, '');
    assert.deepEqual(failureLine(r.stderr), ['Permission denied (keyboard-interactive).']);
    assert.doesNotMatch(r.stderr, /code|TOTP|invalid|wrong/i, 'nothing tells the client why');
    const failures = (await events('auth.mfa', 'tina')).slice(mfaBefore).filter((e) => e.outcome === 'failure');
    assert.ok(failures.length >= 1, 'at least one wrong code was judged');
    for (const f of failures) assert.deepEqual([f.code, detail(f).protocol], ['MFA_TOTP_INVALID', 'ssh']);
    assert.equal(await attempts('tina'), before + failures.length, 'each wrong code counts, as on the web');
    // The right code afterwards logs in and resets the count.
    const ok = await ssh(`tina:${TARGET_USER}@db01`, 'true', { preferred: 'keyboard-interactive', password: users.tina!.password, code: () => nextCode('tina') });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await attempts('tina'), 0);
  });

  test('a locked account is refused like the web: the right password gets the same failure as a wrong one', async () => {
    const lou = users.lou!;
    const wrong = await ssh('lou', 'true', { preferred: 'password', password: 'Wrong-password-1', extra: ['-o', 'NumberOfPasswordPrompts=5'] });
    assert.equal(wrong.code, 255);
    assert.notEqual((await a.store.repos.users.byId(lou.user.id))!.locked_at, null, 'five wrong SSH passwords lock the account');
    const right = await ssh('lou', 'true', { preferred: 'password', password: lou.password, extra: ['-o', 'NumberOfPasswordPrompts=1'] });
    assert.equal(right.code, 255);
    assert.deepEqual(failureLine(right.stderr), failureLine(wrong.stderr).slice(-1));
    const last = (await events('auth.login', 'lou')).at(-1)!;
    assert.deepEqual([last.outcome, last.code, detail(last).protocol], ['failure', 'AUTH_LOCKED', 'ssh']);
    // The web refuses the same account with the same code (from its own address, to tell its row apart below).
    await assert.rejects(a.auth.authenticatePerson({ username: 'lou', password: lou.password, ip: WEB_IP, protocol: 'web' }, async () => undefined), (e: Error & { code?: string }) => e.code === 'AUTH_LOCKED');
  });

  test('a registered key (POST /me/ssh-keys through its service) is one factor: key + TOTP, or the key alone when the setting allows', async () => {
    const keyFile = path.join(work.dir, 'tom_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tom@laptop', '-f', keyFile]);
    const view = await a.sshKeys.add({ username: 'tom', ip: '127.0.0.1' }, users.tom!.user.id, readFileSync(`${keyFile}.pub`, 'utf8'));
    const withCode = await ssh(`tom:${TARGET_USER}@db01`, 'echo key-and-code', { preferred: 'publickey,keyboard-interactive', key: keyFile, code: () => nextCode('tom') });
    assert.equal(withCode.code, 0, withCode.stderr);
    assert.equal(withCode.stdout, 'key-and-code\n');
    assert.equal(withCode.prompts.length, 1, 'no password asked after the key');
    assert.match(withCode.prompts[0]!, /Verification code: $/);
    assert.deepEqual(detail((await events('auth.proxy_login', 'tom')).at(-1)), { protocol: 'ssh', method: 'publickey+totp', keyFingerprint: view.fingerprint });
    // Without a code the key alone is not enough.
    const alone = await ssh(`tom:${TARGET_USER}@db01`, 'echo must-not-run', { preferred: 'publickey,keyboard-interactive', key: keyFile });
    assert.equal(alone.code, 255);
    assert.equal(alone.stdout, '');

    await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: true } }, 'admin', null);
    await settle();
    try {
      const sole = await ssh(`tom:${TARGET_USER}@db01`, 'echo key-alone', { preferred: 'publickey', key: keyFile });
      assert.equal(sole.code, 0, sole.stderr);
      assert.equal(sole.stdout, 'key-alone\n');
      assert.deepEqual(sole.prompts, []);
      const done = (await events('auth.proxy_login', 'tom')).at(-1);
      assert.deepEqual(detail(done), { protocol: 'ssh', method: 'publickey', keyFingerprint: view.fingerprint });
      // A key that is not registered does not log in, whatever the setting.
      const otherFile = path.join(work.dir, 'other_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherFile]);
      const other = await ssh(`tom:${TARGET_USER}@db01`, 'echo must-not-run', { preferred: 'publickey', key: otherFile });
      assert.equal(other.code, 255);
      assert.deepEqual(failureLine(other.stderr), ['Permission denied (publickey,keyboard-interactive,password).']);
    } finally {
      await a.settings.update({ ssh: { allowPublicKeyAsSoleFactor: false } }, 'admin', null);
      await settle();
    }
    assert.notEqual((await a.sshKeys.list(users.tom!.user.id))[0]!.lastUsedAt, null);
  });

  describe('the smart card (a SoftHSM token holding the key of the certificate bound to carol)', () => {
    const pin = '246810';
    let conf: string;
    let fingerprint: string;

    before(async () => {
      const cardDir = path.join(work.dir, 'card');
      mkdirSync(path.join(cardDir, 'tokens'), { recursive: true });
      conf = path.join(cardDir, 'softhsm2.conf');
      writeFileSync(conf, `directories.tokendir = ${path.join(cardDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
      const env = { ...process.env, SOFTHSM2_CONF: conf };
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'card', '--so-pin', '13579111', '--pin', pin], { env, stdio: 'ignore' });
      const made = JSON.parse(execFileSync(process.execPath, [path.join(HELPERS, 'smart-card-keygen.js'), 'card', pin, 'carol-key'], { env, encoding: 'utf8' }));
      assert.equal(made.privateReadable, false, 'the private key never leaves the token');
      const publicKey = await webcrypto.subtle.importKey('raw', Buffer.from(made.point, 'hex'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      const root = await createCa('Proxy Card Root');
      await a.trust.install(root.pem, admin);
      const leaf = await issueLeaf(root, { commonName: 'carol', email: 'carol@example.test', publicKey });
      // Bound at a web login: SSH carries the key, not the certificate.
      await a.certificates.verify(users.carol!.user, { leaf: der(leaf), chain: [] }, WEB_IP);
      fingerprint = (await a.certificates.list({ userId: users.carol!.user.id }))[0]!.fingerprint;
    });

    test('`ssh -I libsofthsm2.so`: the card key (PIN), then the password; logged in as password+certificate, and a session opens', async () => {
      const r = await ssh(`carol:${TARGET_USER}@db01`, 'echo card-session', { preferred: 'publickey,keyboard-interactive,password', card: { conf, pin }, password: users.carol!.password });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'card-session\n');
      assert.ok(r.prompts.some((p) => /PIN/.test(p)), r.prompts.join(' | '));
      assert.ok(r.prompts.some((p) => /assword/.test(p)), r.prompts.join(' | '));
      assert.deepEqual(detail((await events('auth.proxy_login', 'carol')).at(-1)), { protocol: 'ssh', method: 'password+certificate', certificateFingerprint: fingerprint });
      // The card came first (the login's first factor), the password second.
      const [first] = (await events('auth.login', 'carol')).filter((e) => e.outcome === 'success').slice(-1);
      assert.deepEqual([detail(first).method, detail(first).protocol, detail(first).fingerprint], ['certificate', 'ssh', fingerprint]);
      const [second] = (await events('auth.mfa', 'carol')).filter((e) => e.outcome === 'success').slice(-1);
      assert.deepEqual([detail(second).method, detail(second).protocol], ['password', 'ssh']);
      // Without the card, the password alone is not enough for a certificate account.
      const noCard = await ssh(`carol:${TARGET_USER}@db01`, 'echo must-not-run', { preferred: 'keyboard-interactive,password', password: users.carol!.password });
      assert.equal(noCard.code, 255);
      assert.equal(noCard.stdout, '');
    });

    test('forced certificate for proxy sessions: password + TOTP logs in but opens no session; the card key does', async () => {
      await a.settings.update({ mfa: { forceCertificateForProxy: true } }, 'admin', null);
      await settle();
      try {
        const starts = async () => (await a.store.repos.auditEvents.query({ type: 'session.start', limit: 500 })).length;
        const before = await starts();
        const totp = await ssh(`tina:${TARGET_USER}@db01`, 'echo must-not-run', { preferred: 'keyboard-interactive', password: users.tina!.password, code: () => nextCode('tina') });
        assert.equal(totp.code, 1, totp.stderr);
        assert.equal(totp.stdout, '');
        assert.match(totp.stderr, /Proxy sessions require certificate \(smart card\) authentication for your account\./);
        assert.equal(detail((await events('auth.proxy_login', 'tina')).at(-1)).method, 'password+totp', 'the login itself succeeded');
        assert.equal(await starts(), before, 'no session was opened');
        const card = await ssh(`carol:${TARGET_USER}@db01`, 'echo forced-card', { preferred: 'publickey,keyboard-interactive,password', card: { conf, pin }, password: users.carol!.password });
        assert.equal(card.code, 0, card.stderr);
        assert.equal(card.stdout, 'forced-card\n');
        assert.equal(await starts(), before + 1);
      } finally {
        await a.settings.update({ mfa: { forceCertificateForProxy: false } }, 'admin', null);
        await settle();
      }
    });
  });

  test("the core's notice (a password to change first) is shown over keyboard-interactive and the password method; a wrong password shows none", async () => {
    await newUser('mia', null, { mustChange: true });
    const kbd = await ssh('mia', 'true', { preferred: 'keyboard-interactive', password: users.mia!.password, extra: ['-o', 'NumberOfPasswordPrompts=1'] });
    assert.equal(kbd.code, 255);
    assert.match(kbd.stderr, /must change its password in the web portal/);
    const pwd = await ssh('mia', 'true', { preferred: 'password', password: users.mia!.password, extra: ['-o', 'NumberOfPasswordPrompts=1'] });
    assert.equal(pwd.code, 255);
    assert.match(pwd.stderr, /must change its password in the web portal/);
    const last = (await events('auth.login', 'mia')).at(-1)!;
    assert.deepEqual([last.code, detail(last).protocol], ['AUTH_PASSWORD_CHANGE_REQUIRED', 'ssh']);
    for (const preferred of ['keyboard-interactive', 'password']) {
      const wrong = await ssh('mia', 'true', { preferred, password: 'Wrong-password-9', extra: ['-o', 'NumberOfPasswordPrompts=1'] });
      assert.equal(wrong.code, 255);
      assert.doesNotMatch(wrong.stderr, /web portal/);
      assert.deepEqual(failureLine(wrong.stderr), ['Permission denied (publickey,keyboard-interactive,password).']);
    }
  });

  test('the login name is pinned at the first request: a later request under another name fails even with the right password', async () => {
    const auth = new CoreAuthenticator(a).begin({} as Connection, '127.0.0.1');
    const ctx = (fields: Record<string, unknown>) => fields as unknown as AuthContext;
    assert.deepEqual(await auth.attempt(ctx({ method: 'none', username: 'kai' }), 'kai'), { outcome: 'failure', counted: false });
    assert.deepEqual(auth.methods(), ['publickey', 'keyboard-interactive', 'password']);
    const rows = (await events('auth.login', 'kai')).length;
    // The same Warden user, another target: SSH allows the change, the proxy does not.
    assert.deepEqual(await auth.attempt(ctx({ method: 'password', username: `kai:${TARGET_USER}@db01`, password: users.kai!.password }), 'kai'), { outcome: 'failure', counted: true });
    assert.equal((await events('auth.login', 'kai')).length, rows, 'not judged');
    const same = await auth.attempt(ctx({ method: 'password', username: 'kai', password: users.kai!.password }), 'kai');
    assert.equal(same.outcome, 'success');
  });

  test('every authentication row these logins left says protocol ssh', async () => {
    let n = 0;
    for (const name of Object.keys(users)) {
      for (const type of ['auth.login', 'auth.mfa', 'auth.proxy_login'] as const) {
        for (const row of await events(type, name)) {
          if (row.actor_ip === WEB_IP) continue;
          n++;
          assert.equal(detail(row).protocol, 'ssh', `${type} ${row.outcome} ${row.code ?? ''} for ${name}`);
        }
      }
    }
    assert.ok(n > 20, `${n} rows`);
  });
});
