// The terminal proxy's bulk path as tuned for throughput (its socket writes coalesced per turn of the event loop,
// no compression on either leg) loses, reorders and leaves unrecorded nothing: megabytes each way through exec,
// byte for byte at the other end and in the recording. A real sshd target and OpenSSH clients (sshpass).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { closedRecording, ensureTargetAccount, recordingEvents, runClient, startTerminalProxy, type RunningProxy } from '../helpers/terminal-proxy.js';

const admin = { username: 'admin', ip: '127.0.0.1', profile: 'administrator' };
/** Its own account: other proxy test files may run at once, each setting its own password. */
const TARGET_USER = 'wthroughput';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('terminal proxy: bulk transfers', { timeout: 240_000 }, () => {
  let home: InitializedHome;
  let sshd: Sshd;
  let proxy: RunningProxy;
  let a: Appliance;
  let alicePw = '';
  let work = '';
  const targetPassword = `T-${randomBytes(12).toString('hex')}`;

  const ssh = (args: string[], input?: Buffer) => runClient('ssh', ['-p', String(proxy.port), '-l', `alice:${TARGET_USER}@db01`, ...args.filter((x) => x.startsWith('-')), '127.0.0.1', ...args.filter((x) => !x.startsWith('-'))], alicePw, { timeoutMs: 120_000, ...(input ? { input } : {}) });

  before(async () => {
    home = await initializedHome();
    sshd = await startSshd(path.join(home.home, '..', `${path.basename(home.home)}-sshd`));
    ensureTargetAccount(TARGET_USER, targetPassword);
    work = mkdtempSync('/tmp/warden-thru-');
    chownSync(work, Number(execFileSync('id', ['-u', TARGET_USER], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', TARGET_USER], { encoding: 'utf8' })));
    chmodSync(work, 0o755);
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    const first = strongPassword();
    const { user } = await a.users.create(admin, { username: 'alice', fullName: 'alice', email: 'alice@example.test', profile: 'privileged-access-user', password: first });
    alicePw = strongPassword();
    await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: alicePw, ip: '127.0.0.1' });
    const device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` })).id;
    const cred = (await a.credentials.createCredential(admin, { deviceId: device, username: TARGET_USER, secret: targetPassword })).id;
    await a.accessGroups.saveGroup(admin, { name: 'ops', userIds: [user.id], deviceIds: [device], credentialIds: [cred] });
    proxy = await startTerminalProxy(home);
  });

  after(async () => {
    await proxy?.stop();
    await sshd?.stop();
    await a?.close();
    home?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function lastSession(): Promise<string> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return JSON.parse(ev!.detail).session as string;
  }

  /** What the session's recording holds of one stream, once the proxy has closed it. */
  async function recorded(sessionId: string, type: 'output' | 'input'): Promise<Buffer> {
    const r = await closedRecording(a, sessionId);
    assert.equal(r.status, 'complete');
    const parts: Buffer[] = [];
    for (const e of await recordingEvents(a, r.id)) if (e.type === type) parts.push(e.data);
    return Buffer.concat(parts);
  }

  test('no compression on the client leg, even when the client asks for it (ssh -C)', async () => {
    const r = await ssh(['-v', '-C', 'true']);
    assert.equal(r.code, 0, r.stderr);
    const kex = r.stderr.split('\n').filter((l) => / cipher: .* compression: /.test(l));
    assert.equal(kex.length, 2, r.stderr);
    for (const l of kex) assert.match(l, /compression: none\r?$/);
  });

  test('24 MiB up and back down arrive whole and in order, and are recorded whole', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const file = path.join(work, 'blob');
    const up = await ssh([`cat > ${file}`], data);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha256(readFileSync(file)), sha256(data));
    assert.equal(sha256(await recorded(await lastSession(), 'input')), sha256(data));
    const down = await ssh([`cat ${file}`]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout.length, data.length);
    assert.equal(sha256(down.stdout), sha256(data));
    assert.equal(sha256(await recorded(await lastSession(), 'output')), sha256(data));
  });
});
