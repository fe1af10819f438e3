// The recording service compresses RDP recordings and only those: an RDP session's file says deflate-raw and
// is smaller than its frames, an SSH session's has no compression field; both verify, and the listing's bytes
// are the file's size on disk.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { readRecordingHeader } from '../../../appliance/recording/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const auditor = { username: 'audrey', ip: '127.0.0.1', profile: 'auditor' };

describe('recording service: compression by protocol', () => {
  let home: InitializedHome;
  let a: Appliance;
  let ana: number;
  const dev: Record<string, number> = {};
  const cred: Record<string, number> = {};

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    ana = (await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user', password: strongPassword() })).user.id;
    await a.users.create(admin, { username: 'audrey', fullName: 'Audrey', email: 'audrey@example.test', profile: 'auditor', password: strongPassword() });
    for (const [hostname, address, connectivity] of [['win01', '127.0.0.31', 'RDP:3389'], ['db01', '127.0.0.32', 'SSH:22']] as const) {
      dev[hostname] = (await a.devices.createDevice(admin, { hostname, address, connectivity })).id;
      cred[hostname] = (await a.credentials.createCredential(admin, { deviceId: dev[hostname]!, username: 'Administrator', secret: `S3cret-${hostname}-${'z'.repeat(10)}` })).id;
      await a.accessGroups.saveGroup(admin, { name: hostname, userIds: [ana], deviceIds: [dev[hostname]!], credentialIds: [cred[hostname]!] });
    }
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  async function record(host: 'win01' | 'db01', protocol: 'rdp' | 'ssh'): Promise<{ id: string; file: string; sent: number }> {
    const r = await a.sessions.open({ userId: ana, deviceId: dev[host]!, credentialId: cred[host]!, protocol, source: '127.0.0.1' });
    assert.ok(r.admitted, JSON.stringify(r));
    const rec = await a.recordings.start(r.session, protocol === 'rdp' ? { cols: 1024, rows: 768, term: 'rdp' } : { cols: 80, rows: 24, term: 'xterm' });
    let sent = 0;
    for (let i = 0; i < 50; i++) {
      const frame = Buffer.alloc(8000, i);
      for (let j = 0; j < frame.length; j += 61) frame[j] = j & 0xff;
      rec.writer.output(frame);
      sent += frame.length;
    }
    await rec.close();
    await r.session.close({ reason: 'test' });
    return { id: rec.id, file: rec.writer.path, sent };
  }

  test('an RDP recording is deflated, an SSH one is not; both verify; the listing counts bytes on disk', async () => {
    const rdp = await record('win01', 'rdp');
    const ssh = await record('db01', 'ssh');
    assert.equal((await readRecordingHeader(rdp.file)).header.compression, 'deflate-raw');
    assert.equal('compression' in (await readRecordingHeader(ssh.file)).header, false);
    const list = await a.recordings.list(auditor);
    for (const r of [rdp, ssh]) {
      const row = list.find((x) => x.id === r.id)!;
      assert.equal(row.bytes, statSync(r.file).size);
      const v = await a.recordings.verify(auditor, r.id);
      assert.deepEqual({ ok: v.ok, complete: v.complete }, { ok: true, complete: true }, v.problem);
    }
    assert.ok(statSync(rdp.file).size < rdp.sent / 4, `rdp: ${statSync(rdp.file).size} bytes for ${rdp.sent}`);
    assert.ok(statSync(ssh.file).size > ssh.sent, `ssh: ${statSync(ssh.file).size} bytes for ${ssh.sent}`);
  });
});
