// State files are private whatever the umask the deployer's shell or the service manager hands down:
// `orbit init` run under a permissive umask, then the web daemon started and made to write, leave only
// 0600 files and 0700 directories under the state directory (database, -wal, -shm, token, PINs, TLS key,
// config, custodian shares, backups).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TEST_ARGON2_FLAGS, strongPassword, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, ORBIT_MAIN, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';

/** Every path under `dir` with its permission bits. */
function modes(dir: string): { path: string; dir: boolean; mode: number }[] {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = lstatSync(p);
    out.push({ path: p, dir: s.isDirectory(), mode: s.mode & 0o777 });
    if (s.isDirectory()) out.push(...modes(p));
  }
  return out;
}

/** orbit in its own process under umask 022, as a deployer's login shell would start it. */
function orbitUnderUmask(home: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('/bin/sh', ['-c', 'umask 0022 && exec "$0" "$@"', process.execPath, ORBIT_MAIN, '--home', home, ...args], {
      env: { ...process.env, WARDEN_HOME: home, WARDEN_CONFIG: '', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('state file permissions', () => {
  const tmp = tempDir('warden-modes-');
  const home = path.join(tmp.dir, 'state');
  let d: RunningDaemon | undefined;
  let oneTime = '';

  before(async () => {
    const r = await orbitUnderUmask(home, [
      'init', '--admin-user', 'admin', '--listen', '127.0.0.1', '--https-port', '0', '--http-port', '0', '--public-host', '127.0.0.1',
      ...TEST_ARGON2_FLAGS, '--shares-dir', path.join(home, 'custodian-shares'), '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    oneTime = JSON.parse(r.stdout).oneTimePassword;
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('after orbit init under umask 022, the web daemon and a write, every file is 0600 and every directory 0700', async () => {
    const previous = process.umask(0o022);
    try {
      d = await startWebDaemon({ home, configFile: path.join(home, 'warden.json') } as InitializedHome);
    } finally {
      process.umask(previous);
    }
    const admin = new ApiClient(d);
    await admin.loginAndChange('admin', oneTime, strongPassword());
    assert.equal((await admin.call('PUT', '/api/v1/settings', { lockout: { maxAttempts: 7 } })).status, 200);
    const backup = await orbitUnderUmask(home, ['backup', 'create', path.join(home, 'backups', 'first.wbk')]);
    assert.equal(backup.code, 0, backup.stderr);

    const all = modes(home);
    const names = all.map((e) => path.relative(home, e.path));
    for (const expected of ['warden.db', 'warden.db-wal', 'warden.db-shm', 'warden.json', 'keys/token.pin', 'keys/token.so-pin', 'keys/softhsm2.conf', 'tls/web.key', 'tls/web.crt']) {
      assert.ok(names.includes(expected), `${expected} exists (found: ${names.join(', ')})`);
    }
    assert.ok(names.some((n) => n.startsWith('custodian-shares/share-')), 'the custodian shares are under the state directory in this test');
    assert.ok(names.some((n) => n.startsWith('keys/tokens/')), 'the SoftHSM token files are checked too');
    assert.ok(names.includes('backups/first.wbk'), 'a backup written by orbit is checked too');
    const wrong = all.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${path.relative(home, e.path)} ${e.mode.toString(8)}`);
    assert.deepEqual(wrong, [], 'files 0600, directories 0700');
  });
});
