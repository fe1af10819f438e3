// Master key custody and backups end to end with orbit: init cuts 3 custodian shares (threshold 2); a
// backup is written; the state is destroyed; a fresh appliance restored with 2 shares decrypts every
// credential on a new token. One share, a share of another appliance, a damaged share, or a corrupted
// backup: a clear error, and nothing is left behind.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { TEST_ARGON2_FLAGS, tempDir } from '../helpers/fixtures.js';
import { runOrbit } from '../helpers/orbit.js';

const orbit = runOrbit;

describe('custodian shares, backup and restore', () => {
  const tmp = tempDir('warden-backup-');
  const original = path.join(tmp.dir, 'original');
  const sharesDir = path.join(tmp.dir, 'shares');
  const backupFile = path.join(tmp.dir, 'warden.backup');
  const secrets = new Map<number, string>();
  let recordingId = '';
  let shares: string[] = [];
  const init = ['init', '--admin-user', 'chief', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS];

  before(async () => {
    const r = await orbit(original, [...init, '--custodians', '3', '--threshold', '2', '--shares-dir', sharesDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    shares = JSON.parse(r.stdout).shareFiles;
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: original }));
    try {
      const admin = { username: 'chief', ip: null };
      const device = await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.1', connectivity: 'SSH:22' });
      for (const [user, secret] of [['root', 'R00t-Secret-Ω'], ['oracle', 'Or4cle-Secret-日本']]) {
        const c = await a.credentials.createCredential(admin, { deviceId: device.id, username: user, secret });
        secrets.set(c.id, secret);
      }
      // A recorded session: its file must come back with the database, and open under the restored key.
      const ana = await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user' });
      const [credentialId] = [...secrets.keys()];
      await a.accessGroups.saveGroup(admin, { name: 'db', userIds: [ana.user.id], deviceIds: [device.id], credentialIds: [credentialId!] });
      const s = await a.sessions.open({ userId: ana.user.id, deviceId: device.id, credentialId: credentialId!, protocol: 'ssh', source: '127.0.0.1' });
      assert.ok(s.admitted);
      const rec = await a.recordings.start(s.session, { cols: 80, rows: 24, term: 'xterm' });
      rec.writer.output(Buffer.from('recorded before the disaster\r\n'));
      await rec.close();
      await s.session.close({ reason: 'client-closed' });
      recordingId = rec.id;
    } finally {
      await a.close();
    }
    const b = await orbit(original, ['backup', 'create', backupFile]);
    assert.equal(b.code, 0, b.stderr);
    // Disaster: the appliance and its token are gone.
    rmSync(original, { recursive: true, force: true });
  });
  after(() => tmp.cleanup());

  test('init wrote one share file per custodian, and the key is in none of the appliance files', () => {
    assert.equal(shares.length, 3);
    for (const f of shares) assert.match(readFileSync(f, 'utf8'), /^WARDEN MASTER KEY SHARE v1\n.*\nshare: \d of 3\nthreshold: 2\n/s);
  });

  test('the backup file does not contain the secrets in clear', () => {
    const data = readFileSync(backupFile);
    for (const s of secrets.values()) assert.equal(data.includes(Buffer.from(s)), false);
  });

  const failures: [string, () => string[], RegExp][] = [
    ['one share (fewer than the threshold)', () => [shares[0]!], /2 different shares are needed; 1 given/],
    ['the same share twice', () => [shares[1]!, shares[1]!], /2 different shares are needed; 1 given/],
    [
      'a damaged share',
      () => {
        const f = path.join(tmp.dir, 'damaged.txt');
        writeFileSync(f, readFileSync(shares[0]!, 'utf8').replace(/data: (.)/, (_m, c: string) => `data: ${c === 'A' ? 'B' : 'A'}`));
        return [f, shares[1]!];
      },
      /damaged \(checksum mismatch\)/,
    ],
    ['not a share at all', () => [backupFile, shares[1]!], /not a Warden master key share|too large/],
  ];
  for (const [what, files, message] of failures) {
    test(`restore with ${what} fails clearly and leaves nothing behind`, async () => {
      const target = path.join(tmp.dir, `fail-${what.replace(/\W+/g, '-')}`);
      const r = await orbit(target, ['backup', 'restore', backupFile, ...files().flatMap((f) => ['--share', f])]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(existsSync(target) ? readdirSync(target) : [], []);
    });
  }

  for (const [what, damage, message] of [
    ['a byte of its database part', (d: Buffer) => void (d[d.indexOf(0x0a, 20) + 100]! ^= 0xff), /corrupted \(authentication failed\)/],
    ['a byte of a recording', (d: Buffer) => void (d[d.length - 10]! ^= 0xff), /corrupted \(recording .* does not match its checksum\)/],
    ['its end cut off', (d: Buffer) => d.subarray(0, d.length - 5), /corrupted \(a recording is missing or cut short\)/],
  ] as const) {
    test(`a backup with ${what} damaged fails clearly and leaves nothing behind`, async () => {
      const corrupt = path.join(tmp.dir, 'corrupt.backup');
      const data = readFileSync(backupFile);
      writeFileSync(corrupt, damage(data) ?? data);
      const target = path.join(tmp.dir, `fail-corrupt-${what.replace(/\W+/g, '-')}`);
      const r = await orbit(target, ['backup', 'restore', corrupt, '--share', shares[0]!, '--share', shares[2]!]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.deepEqual(existsSync(target) ? readdirSync(target) : [], []);
    });
  }

  test('shares of another appliance are refused', async () => {
    const other = path.join(tmp.dir, 'other');
    const otherShares = path.join(tmp.dir, 'other-shares');
    assert.equal((await orbit(other, [...init, '--shares-dir', otherShares])).code, 0);
    const target = path.join(tmp.dir, 'fail-other');
    const r = await orbit(target, ['backup', 'restore', backupFile, '--share', path.join(otherShares, 'share-1-of-3.txt'), '--share', path.join(otherShares, 'share-2-of-3.txt')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /belongs to appliance/);
  });

  test('two shares restore a fresh appliance on a new token; every credential decrypts', async () => {
    const restored = path.join(tmp.dir, 'restored');
    const r = await orbit(restored, ['backup', 'restore', backupFile, '--share', shares[2]!, '--share', shares[0]!, ...TEST_ARGON2_FLAGS]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: restored }));
    try {
      assert.equal(a.keys.masterKeyIsExtractable(), false);
      for (const [id, secret] of secrets) assert.equal(await a.credentials.secretOf(id), secret);
      assert.equal((await a.audit.verify()).ok, true);
      const [row] = await a.store.repos.auditEvents.query({ type: 'backup.restore', limit: 1 });
      assert.ok(row, 'the restore is in the audit trail');
      const auditor = { username: 'chief', ip: null, profile: 'administrator' };
      const v = await a.recordings.verify(auditor, recordingId);
      assert.deepEqual({ ok: v.ok, complete: v.complete }, { ok: true, complete: true }, v.problem);
      const lines: string[] = [];
      for await (const l of await a.recordings.asciicast(auditor, recordingId)) lines.push(l);
      assert.equal(JSON.parse(lines[1]!)[2], 'recorded before the disaster\r\n');
    } finally {
      await a.close();
    }
    const status = await orbit(restored, ['status', '--json']);
    assert.equal(status.code, 0, status.stdout);
  });
});
