// orbit as a deployer runs it: a real process, flags only (no terminal), exit codes 0/1/2.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { ORBIT_MAIN } from '../helpers/web-daemon.js';
import { TEST_ARGON2_FLAGS, tempDir } from '../helpers/fixtures.js';
import { runOrbit } from '../helpers/orbit.js';
import { createCa, createCrl, issueLeaf } from '../helpers/pki.js';

describe('orbit', () => {
  const orbit = (home: string, args: string[]) => runOrbit(home, args, { cwd: path.dirname(home) });
  const tmp = tempDir('warden-orbit-');
  const home = path.join(tmp.dir, 'state');
  let oneTime = '';
  after(() => tmp.cleanup());

  const helpPaths = [
    [], ['init'], ['user'], ['user', 'add'], ['user', 'list'], ['user', 'unlock'], ['audit'], ['audit', 'verify'], ['audit', 'types'], ['status'],
    ['ca'], ['ca', 'install'], ['ca', 'list'], ['ca', 'show'], ['ca', 'disable'], ['ca', 'enable'], ['ca', 'crl'], ['ca', 'crl', 'install'],
    ['settings'], ['settings', 'show'], ['settings', 'set'],
  ];
  for (const p of helpPaths) {
    test(`orbit ${[...p, '--help'].join(' ')} explains itself and exits 0`, async () => {
      const r = await orbit(home, [...p, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: orbit/m);
    });
  }

  const usage: [string, string[]][] = [
    ['an unknown command', ['frobnicate']],
    ['an unknown option', ['status', '--frob']],
    ['a missing argument', ['user', 'unlock']],
    ['a bad port', ['init', '--https-port', 'http']],
    ['an Argon2id memory below its bound', ['init', '--argon2-memory', '32']],
    ['an Argon2id pass count that is not a number', ['init', '--argon2-iterations', 'two']],
    ['too little Argon2id memory for its lanes', ['init', '--argon2-memory', '64', '--argon2-parallelism', '16']],
  ];
  for (const [what, args] of usage) {
    test(`${what} is a usage error: exit 2`, async () => {
      const r = await orbit(home, args);
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    });
  }

  test('audit types lists the event catalogue with codes and severities, without an appliance', async () => {
    const r = await orbit(home, ['audit', 'types', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const types = JSON.parse(r.stdout).eventTypes as { type: string; code: string; severity: string }[];
    const emergency = types.find((t) => t.type === 'access.emergency');
    assert.equal(emergency?.code, 'W3003');
    assert.equal(emergency?.severity, 'high');
    const table = await orbit(home, ['audit', 'types']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^W1002\s+auth\.lockout\s+medium\s/m);
  });

  test('a reader that closes the pipe at once (orbit … | true) ends orbit quietly, exit 0', async () => {
    const out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      // bash, for PIPESTATUS: orbit's own exit status, not the reader's.
      execFile('bash', ['-c', `"${process.execPath}" "${ORBIT_MAIN}" audit types | true; echo "orbit-status=\${PIPESTATUS[0]}"`], { env: { ...process.env, WARDEN_HOME: home } }, (err, stdout, stderr) =>
        err ? reject(err) : resolve({ stdout, stderr }),
      );
    });
    assert.match(out.stdout, /orbit-status=0/, out.stderr);
    assert.doesNotMatch(out.stderr, /EPIPE|Error/, out.stderr);
  });

  test('status before init says so and exits 1', async () => {
    const r = await orbit(home, ['status']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /not initialized/);
  });

  describe('after init', () => {
    before(async () => {
      const r = await orbit(home, ['init', '--admin-user', 'chief', '--admin-email', 'chief@example.test', '--listen', '127.0.0.1', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS, '--shares-dir', path.join(tmp.dir, 'shares'), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.shareFiles.length, 3, 'three custodian shares by default');
      assert.equal(out.initialized, true);
      assert.equal(out.adminUsername, 'chief');
      oneTime = out.oneTimePassword;
    });

    test('init printed a one-time password that meets the policy', () => {
      assert.match(oneTime, /^.{20}$/);
    });

    test('init writes the Argon2id flags to the config, and the first administrator\'s hash has that cost', () => {
      const config = JSON.parse(readFileSync(path.join(home, 'warden.json'), 'utf8'));
      assert.deepEqual(config.auth.argon2, { memoryKiB: 64, iterations: 1, parallelism: 1 });
      const db = new Database(path.join(home, 'warden.db'), { readonly: true });
      try {
        const row = db.prepare('SELECT password_hash FROM users WHERE username = ?').get('chief') as { password_hash: string };
        assert.match(row.password_hash, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
      } finally {
        db.close();
      }
    });

    test('a second init refuses (exit 1), --if-needed is a no-op (exit 0)', async () => {
      const again = await orbit(home, ['init', '--admin-user', 'other']);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already initialized/);
      const ifNeeded = await orbit(home, ['init', '--if-needed']);
      assert.equal(ifNeeded.code, 0);
    });

    test('status reports a healthy appliance with a non-extractable master key', async () => {
      const r = await orbit(home, ['status', '--json']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const s = JSON.parse(r.stdout);
      assert.equal(s.healthy, true);
      assert.equal(s.token.masterKeyPresent, true);
      assert.equal(s.token.masterKeyExtractable, false);
      assert.equal(s.audit.ok, true);
    });

    test('user add with flags creates the user and prints a one-time password', async () => {
      const r = await orbit(home, ['user', 'add', 'борис', '--full-name', 'Борис Годунов', '--profile', 'auditor', '--email', 'boris@example.test', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.user.username, 'борис');
      assert.equal(out.user.fullName, 'Борис Годунов');
      assert.equal(out.user.mustChangePassword, true);
      assert.equal(typeof out.oneTimePassword, 'string');
    });

    test('user add without a profile and without a terminal is a usage error', async () => {
      const r = await orbit(home, ['user', 'add', 'noprofile']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--profile is required/);
    });

    test('user add refuses bad input with exit 1 and a clear message', async () => {
      const r = await orbit(home, ['user', 'add', "x'; DROP TABLE users;--", '--profile', 'auditor']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /username may hold/);
      const dup = await orbit(home, ['user', 'add', 'борис', '--profile', 'auditor']);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /already exists/);
    });

    test('user list shows the users, as a table or JSON', async () => {
      const table = await orbit(home, ['user', 'list']);
      assert.equal(table.code, 0);
      assert.match(table.stdout, /USERNAME/);
      assert.match(table.stdout, /chief/);
      assert.match(table.stdout, /борис/);
      const json = JSON.parse((await orbit(home, ['user', 'list', '--json'])).stdout);
      assert.deepEqual(json.users.map((u: { username: string }) => u.username).sort(), ['chief', 'борис']);
    });

    test('user unlock clears a lock; an unknown user is exit 1', async () => {
      const db = new Database(path.join(home, 'warden.db'));
      db.prepare("UPDATE users SET locked_at = ?, failed_attempts = 5 WHERE username = 'борис'").run(Date.now());
      db.close();
      const listed = JSON.parse((await orbit(home, ['user', 'list', '--json'])).stdout);
      assert.equal(listed.users.find((u: { username: string }) => u.username === 'борис').locked, true);
      const r = await orbit(home, ['user', 'unlock', 'борис']);
      assert.equal(r.code, 0, r.stderr);
      const after = JSON.parse((await orbit(home, ['user', 'list', '--json'])).stdout);
      assert.equal(after.users.find((u: { username: string }) => u.username === 'борис').locked, false);
      const none = await orbit(home, ['user', 'unlock', 'ghost']);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /not found/);
    });

    test('audit verify passes, then finds a tampered row by number', async () => {
      const ok = await orbit(home, ['audit', 'verify']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /intact: \d+ rows/);
      const db = new Database(path.join(home, 'warden.db'));
      db.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2").run();
      db.close();
      const broken = await orbit(home, ['audit', 'verify']);
      assert.equal(broken.code, 1);
      assert.match(broken.stdout, /BROKEN at row 2/);
      const status = await orbit(home, ['status']);
      assert.equal(status.code, 1);
    });

    test('ca install takes a chain in any order, refuses non-CA and garbage; list, show, disable, enable, crl install', async () => {
      const root = await createCa('Orbit Root');
      const inter = await createCa('Orbit Issuing', { parent: root });
      const leaf = await issueLeaf(inter, { commonName: 'someone' });
      const f = (name: string, content: string | Buffer) => {
        const p = path.join(tmp.dir, name);
        writeFileSync(p, content);
        return p;
      };
      const notCa = await orbit(home, ['ca', 'install', f('leaf.pem', leaf.pem)]);
      assert.equal(notCa.code, 1);
      assert.match(notCa.stderr, /not a CA certificate/);
      const garbage = await orbit(home, ['ca', 'install', f('garbage.pem', 'hello')]);
      assert.equal(garbage.code, 1);
      assert.match(garbage.stderr, /not a valid X\.509 certificate/);
      const missing = await orbit(home, ['ca', 'install', path.join(tmp.dir, 'nope.pem')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read/);

      const ok = await orbit(home, ['ca', 'install', f('chain.pem', inter.pem + root.pem)]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /installed CA \d+: CN=Orbit Issuing/);
      const der = await orbit(home, ['ca', 'install', f('root.der', Buffer.from(root.cert.rawData))]);
      assert.match(der.stdout, /already installed/);

      const list = JSON.parse((await orbit(home, ['ca', 'list', '--json'])).stdout).cas;
      const r = list.find((c: { subject: string }) => c.subject.startsWith('CN=Orbit Root'));
      const i = list.find((c: { subject: string }) => c.subject.startsWith('CN=Orbit Issuing'));
      assert.equal(i.parentId, r.id, 'the intermediate is linked to its root');
      const table = await orbit(home, ['ca', 'list']);
      assert.match(table.stdout, /FINGERPRINT/);
      const show = await orbit(home, ['ca', 'show', String(i.id)]);
      assert.match(show.stdout, /-----BEGIN CERTIFICATE-----/);
      assert.equal((await orbit(home, ['ca', 'show', 'abc'])).code, 2);
      assert.equal((await orbit(home, ['ca', 'show', '999'])).code, 1);

      const off = await orbit(home, ['ca', 'disable', String(r.id)]);
      assert.match(off.stdout, /is now inactive/);
      assert.equal(JSON.parse((await orbit(home, ['ca', 'list', '--json'])).stdout).cas.find((c: { id: number }) => c.id === r.id).active, false);
      assert.match((await orbit(home, ['ca', 'enable', String(r.id)])).stdout, /is now active/);

      const crl = await orbit(home, ['ca', 'crl', 'install', f('inter.crl', await createCrl(inter, [leaf]))]);
      assert.equal(crl.code, 0, crl.stderr);
      assert.match(crl.stdout, /1 revoked certificate/);
      const stranger = await orbit(home, ['ca', 'crl', 'install', f('other.crl', await createCrl(await createCa('Stranger'), []))]);
      assert.equal(stranger.code, 1);
      assert.match(stranger.stderr, /not signed by an installed CA/);
    });

    test('ca install refuses a CA whose subject is an installed CA\'s with another key, saying which; --force installs it, audited', async () => {
      const genuine = await createCa('Orbit Collision Root');
      const impostor = await createCa('Orbit Collision Root');
      const f = (name: string, content: string) => {
        const p = path.join(tmp.dir, name);
        writeFileSync(p, content);
        return p;
      };
      assert.equal((await orbit(home, ['ca', 'install', f('genuine.pem', genuine.pem)])).code, 0);
      const installed = JSON.parse((await orbit(home, ['ca', 'list', '--json'])).stdout).cas.find((c: { subject: string }) => c.subject === 'CN=Orbit Collision Root, O=Warden Test');
      const before = JSON.parse((await orbit(home, ['ca', 'list', '--json'])).stdout).cas.length;

      const refused = await orbit(home, ['ca', 'install', f('impostor.pem', impostor.pem)]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`installed CA ${installed.id} \\(CN=Orbit Collision Root, O=Warden Test, fingerprint ${installed.fingerprint}\\)`));
      assert.match(refused.stderr, /different key/);
      assert.match(refused.stderr, /--force/);
      assert.equal(JSON.parse((await orbit(home, ['ca', 'list', '--json'])).stdout).cas.length, before, 'nothing installed');

      const forced = await orbit(home, ['ca', 'install', '--force', f('impostor.pem', impostor.pem)]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /installed CA \d+: CN=Orbit Collision Root/);
      const db = new Database(path.join(home, 'warden.db'), { readonly: true });
      try {
        const rows = db.prepare("SELECT outcome, code, detail FROM audit_events WHERE type = 'pki.ca_install' ORDER BY seq DESC LIMIT 2").all() as { outcome: string; code: string | null; detail: string }[];
        const detail = JSON.parse(rows[0]!.detail);
        assert.equal(rows[0]!.outcome, 'success');
        assert.equal(detail.forced, true);
        assert.equal(detail.collisions[0].collidesWith.id, installed.id);
        assert.equal(detail.collisions[0].collidesWith.fingerprint, installed.fingerprint);
        assert.equal(rows[1]!.outcome, 'failure', 'the refused attempt is audited too');
        assert.equal(rows[1]!.code, 'CA_SUBJECT_CONFLICT');
      } finally {
        db.close();
      }
    });

    test('a wrong token PIN fails closed: user add refuses, status says why', async () => {
      writeFileSync(path.join(home, 'keys', 'token.pin'), 'not-the-pin\n');
      const add = await orbit(home, ['user', 'add', 'nokeys', '--profile', 'auditor']);
      assert.equal(add.code, 1);
      assert.match(add.stderr, /KEYS_PIN_INCORRECT/);
      const status = await orbit(home, ['status', '--json']);
      assert.equal(status.code, 1);
      assert.match(JSON.parse(status.stdout).token.error, /KEYS_PIN_INCORRECT/);
    });
  });
});
