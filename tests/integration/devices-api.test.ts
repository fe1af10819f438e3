// The devices API the console's Devices pages use, over the real web daemon: the import report names each
// refusal's code and field (so the console can say it in the reader's language); "check now" probes a real
// sshd and a closed loopback port, stores the results, and is audited as the person's act with its results in
// the same transaction; a device's connectivity reads as plain results; the list's reachability and its
// unreachable filter follow; pinned host keys are listed and reset (audited); each call refuses the profiles
// without its permission.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { freePort, startSshd, type Sshd } from '../helpers/sshd.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin, signInAccounts } from '../helpers/web-daemon.js';

describe('devices API for the console', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  let sshd: Sshd;
  const dir = tempDir('warden-devapi-');
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    await signInAccounts(admin, d, [['auditor1', 'auditor'], ['ops', 'privileged-access-user']] as const, clients, ids);
    sshd = await startSshd(path.join(dir.dir, 'sshd'));
  });
  after(async () => {
    await sshd?.stop();
    await d?.stop();
    home?.cleanup();
    dir.cleanup();
  });

  async function auditEvents(type: string): Promise<{ type: string; outcome: string; actor: string; subject: string; detail: Record<string, unknown> }[]> {
    const r = await admin.call('GET', `/api/v1/audit?type=${encodeURIComponent(type)}&limit=50`);
    assert.equal(r.status, 200, r.body);
    return r.json.events;
  }

  test("the import report gives each refused row's code and field", async () => {
    assert.equal((await admin.call('POST', '/api/v1/devices', { hostname: 'taken01', address: '127.0.3.1' })).status, 201);
    const csv = ['hostname,address,site', 'imp01,127.0.3.2,Recife', 'imp02,not-an-ip,Recife', 'taken01,127.0.3.3,Recife', 'bad_name!,127.0.3.4,Recife', ''].join('\n');
    const r = await admin.call('POST', '/api/v1/devices/import', { csv });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.imported, 1);
    assert.equal(r.json.failed, 3);
    const byRow = Object.fromEntries(r.json.rows.map((x: { row: number }) => [x.row, x]));
    assert.equal(byRow[2].ok, true);
    assert.deepEqual([byRow[3].code, byRow[3].field], ['INPUT_INVALID', 'address']);
    assert.deepEqual([byRow[4].code, byRow[4].field, byRow[4].hostname], ['CONFLICT', 'hostname', 'taken01']);
    assert.deepEqual([byRow[5].code, byRow[5].field], ['INPUT_INVALID', 'hostname']);
    const unknown = await admin.call('POST', '/api/v1/devices/import', { csv: 'hostname,address,owner\nimp09,127.0.3.9,me\n' });
    assert.deepEqual([unknown.json.rows[0].code, unknown.json.rows[0].field], ['INPUT_INVALID', 'owner']);
    // Asked to update, a taken host name changes that device (only the columns the row fills), audited.
    const up = await admin.call('POST', '/api/v1/devices/import', { csv: 'hostname,address,site\ntaken01,127.0.3.50,Lisboa\nimp10,127.0.3.11,\n', update: true });
    assert.equal(up.status, 200, up.body);
    assert.deepEqual(up.json.rows.map((x: { action: string }) => x.action), ['updated', 'created']);
    const taken = (await admin.call('GET', '/api/v1/devices?q=taken01')).json.devices[0];
    assert.deepEqual([taken.address, taken.site], ['127.0.3.50', 'Lisboa']);
    const updates = await auditEvents('device.update');
    assert.deepEqual(updates.find((e) => e.subject === 'taken01')?.detail, { id: taken.id, import: true, row: 2 });
    // A file the parser cannot read is refused whole.
    assert.equal((await admin.call('POST', '/api/v1/devices/import', { csv: 'hostname,address\n"open,127.0.3.10\n' })).status, 400);
  });

  test('check now: a real sshd answers, a closed port does not; results stored, listed, filtered, and audited as the person\'s act', async () => {
    const closed = await freePort();
    const up = await admin.call('POST', '/api/v1/devices', { hostname: 'sshd-up', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` });
    const down = await admin.call('POST', '/api/v1/devices', { hostname: 'port-closed', address: '127.0.0.1', connectivity: `SSH:${closed}` });
    ids.up = up.json.device.id;
    ids.down = down.json.device.id;

    // Not yet checked: the device page shows no result, the list says unchecked.
    assert.deepEqual((await admin.call('GET', `/api/v1/devices/${ids.up}`)).json.connectivity, []);

    const ok = await admin.call('POST', `/api/v1/devices/${ids.up}/connectivity/check`, {});
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json.results.length, 1);
    assert.equal(ok.json.results[0].ok, true);
    assert.match(ok.json.results[0].detail, /^SSH-2\.0-OpenSSH/);
    const bad = await admin.call('POST', `/api/v1/devices/${ids.down}/connectivity/check`, {});
    assert.equal(bad.json.results[0].ok, false);

    const page = (await admin.call('GET', `/api/v1/devices/${ids.up}`)).json;
    assert.equal(page.connectivity.length, 1);
    const [result] = page.connectivity;
    assert.deepEqual(Object.keys(result).sort(), ['checkedAt', 'detail', 'ok', 'port', 'protocol']);
    assert.deepEqual([result.protocol, result.port, result.ok], ['SSH', sshd.port, true]);
    assert.ok(!Number.isNaN(Date.parse(result.checkedAt)));
    assert.equal((await admin.call('GET', `/api/v1/devices/${ids.down}`)).json.connectivity[0].ok, false);

    const listed = (await admin.call('GET', '/api/v1/devices?q=sshd-up')).json.devices;
    assert.equal(listed[0].reachability.state, 'ok');
    const failing = (await admin.call('GET', '/api/v1/devices?unreachable=true')).json;
    assert.deepEqual(failing.devices.map((x: { hostname: string }) => x.hostname), ['port-closed']);
    assert.equal(failing.total, 1);

    const checks = await auditEvents('device.connectivity_check');
    const mine = checks.filter((e) => e.actor === 'admin');
    assert.deepEqual(mine.map((e) => [e.subject, e.outcome]).sort(), [['port-closed', 'failure'], ['sshd-up', 'success']]);
    assert.deepEqual(mine.find((e) => e.subject === 'port-closed')!.detail, { id: ids.down, ports: 1, failing: 1 });
    assert.ok((await auditEvents('device.connectivity_alert')).some((e) => e.subject === 'port-closed'), 'the failing port raises its alert too');

    // An auditor reads but may not check; a privileged-access user may not even read.
    assert.equal((await clients.auditor1!.call('POST', `/api/v1/devices/${ids.up}/connectivity/check`, {})).status, 403);
    assert.equal((await clients.auditor1!.call('GET', `/api/v1/devices/${ids.up}`)).status, 200);
    assert.equal((await clients.ops!.call('GET', '/api/v1/devices')).status, 403);
    assert.equal((await admin.call('POST', '/api/v1/devices/99999/connectivity/check', {})).status, 404);
  });

  test("a device's credentials by the credentials API's device filter", async () => {
    const c = await admin.call('POST', '/api/v1/credentials', { deviceId: ids.up, username: 'root', secret: 'S3cret-for-the-filter' });
    assert.equal(c.status, 201, c.body);
    await admin.call('POST', '/api/v1/credentials', { deviceId: ids.down, username: 'other', secret: 'S3cret-elsewhere' });
    const r = await admin.call('GET', `/api/v1/credentials?device=${ids.up}`);
    assert.deepEqual(r.json.credentials.map((x: { username: string }) => x.username), ['root']);
    assert.equal(r.json.total, 1);
    assert.ok(!r.body.includes('S3cret'), 'never a secret');
  });

  test('pinned host keys: listed, reset (audited), refused to a reader', async () => {
    // A key is pinned by the first connection through a proxy; here the core pins it as that connection would.
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    try {
      assert.equal(await a.hostKeys.checkHostKey(ids.up!, 'ssh', 'SHA256:TheFirstKeyThisDeviceShowed000000000000000'), 'pinned');
    } finally {
      await a.close();
    }
    const keys = await admin.call('GET', `/api/v1/devices/${ids.up}/host-keys`);
    assert.deepEqual(keys.json.hostKeys.map((k: { protocol: string; fingerprint: string }) => [k.protocol, k.fingerprint]), [['ssh', 'SHA256:TheFirstKeyThisDeviceShowed000000000000000']]);
    assert.equal((await clients.auditor1!.call('GET', `/api/v1/devices/${ids.up}/host-keys`)).status, 200);
    assert.equal((await clients.auditor1!.call('POST', `/api/v1/devices/${ids.up}/host-keys/ssh/reset`, {})).status, 403);
    const reset = await admin.call('POST', `/api/v1/devices/${ids.up}/host-keys/ssh/reset`, {});
    assert.equal(reset.status, 200, reset.body);
    assert.equal(reset.json.reset, true);
    assert.deepEqual((await admin.call('GET', `/api/v1/devices/${ids.up}/host-keys`)).json.hostKeys, []);
    assert.ok((await auditEvents('device.host_key_reset')).some((e) => e.subject === 'sshd-up' && e.actor === 'admin'));
  });
});
