// The connectivity test against real servers on loopback: OpenSSH's sshd (TCP + banner), a closed port,
// and a TCP service that is not SSH. Failures are recorded and raise an alert event.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { freePort, startSshd, type Sshd } from '../helpers/sshd.js';

describe('connectivity test', () => {
  let home: InitializedHome;
  let a: Appliance;
  let sshd: Sshd;
  let notSsh: net.Server;
  let notSshPort: number;
  const dir = tempDir('warden-conn-');
  const admin = { username: 'admin', ip: null };

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    sshd = await startSshd(path.join(dir.dir, 'sshd'));
    notSsh = net.createServer((s) => {
      s.on('error', () => {}); // the probe hangs up first
      s.end('HELLO I AM SMTP\r\n');
    });
    await new Promise<void>((r) => notSsh.listen(0, '127.0.0.1', r));
    notSshPort = (notSsh.address() as net.AddressInfo).port;
  });
  after(async () => {
    await sshd?.stop();
    notSsh?.close();
    await a?.close();
    home?.cleanup();
    dir.cleanup();
  });

  test('sshd answers with its banner; a closed port and a non-SSH service are failures with alerts', async () => {
    const closed = await freePort();
    const good = await a.devices.createDevice(admin, { hostname: 'sshd-ok', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` });
    const bad = await a.devices.createDevice(admin, { hostname: 'closed', address: '127.0.0.1', connectivity: `SSH:${closed},RDP:${notSshPort}` });
    const odd = await a.devices.createDevice(admin, { hostname: 'not-ssh', address: '127.0.0.1', connectivity: `SSH:${notSshPort}` });
    const off = await a.devices.createDevice(admin, { hostname: 'switched-off', address: '127.0.0.1', connectivity: `SSH:${closed}` });
    await a.devices.setDeviceStatus(admin, off.id, 'disabled');

    const results = await a.connectivity.checkAll();
    const by = (id: number, port: number) => results.find((r) => r.deviceId === id && r.port === port)!;
    assert.equal(by(good.id, sshd.port).ok, true);
    assert.match(by(good.id, sshd.port).detail, /^SSH-2\.0-OpenSSH/);
    assert.deepEqual([by(bad.id, closed).ok, by(bad.id, closed).detail], [false, 'ECONNREFUSED']);
    assert.equal(by(bad.id, notSshPort).ok, true, 'RDP here is a plain TCP connect');
    assert.equal(by(odd.id, notSshPort).ok, false);
    assert.match(by(odd.id, notSshPort).detail, /not an SSH banner/);
    assert.equal(results.some((r) => r.deviceId === off.id), false, 'disabled devices are not probed');

    const stored = await a.store.repos.connectivity.connectivity(bad.id);
    assert.deepEqual(stored.map((s) => [s.port, s.ok]), ([[closed, false], [notSshPort, true]] as [number, boolean][]).sort((x, y) => x[0] - y[0]));
    const alerts = await a.store.repos.auditEvents.query({ type: 'device.connectivity_alert', limit: 10 });
    assert.deepEqual(alerts.map((r) => r.subject).sort(), ['closed', 'not-ssh']);
  });
});
