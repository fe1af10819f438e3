// Master key rotation re-wraps on the token before its one writing transaction. A secret sealed or changed
// while the re-wrapping runs (another request, another daemon) must not be left under the old key, which
// the rotation destroys: the transaction sees the change, rolls back, and the changed values are re-wrapped.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { rotateMasterKey } from '../../../appliance/backup/index.js';
import type { KeyService } from '../../../appliance/keys/index.js';
import { initializedHome, type InitializedHome } from '../../helpers/fixtures.js';

describe('master key rotation with writers meanwhile', () => {
  let home: InitializedHome;
  let a: Appliance;
  const admin = { username: 'admin', ip: null };

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  test('a secret created and one changed during the re-wrapping still open after the old key is destroyed', async () => {
    const device = await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.2.10', connectivity: 'SSH:22' });
    const before = await Promise.all([1, 2, 3].map((i) => a.credentials.createCredential(admin, { deviceId: device.id, username: `u${i}`, secret: `before-${i}` })));
    let created = 0;
    let writes: Promise<void> | undefined;
    // The key service as the rotation sees it: on the first re-wrap, other writers seal under the old key.
    const keys = new Proxy(a.keys, {
      get(target, prop, receiver) {
        if (prop === 'rewrap') {
          return async (sealed: Buffer) => {
            writes ??= (async () => {
              created = (await a.credentials.createCredential(admin, { deviceId: device.id, username: 'meanwhile', secret: 'created-meanwhile' })).id;
              await a.credentials.updateCredential(admin, before[0]!.id, { secret: 'changed-meanwhile' });
            })();
            await writes;
            return target.rewrap(sealed);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as KeyService;
    const lines: string[] = [];
    const r = await rotateMasterKey({ store: a.store, keys, audit: a.audit }, { custodians: 3, threshold: 2, actor: 'test', writeShares: () => {}, progress: (l) => lines.push(l) });
    assert.equal(await a.credentials.secretOf(created), 'created-meanwhile');
    assert.equal(await a.credentials.secretOf(before[0]!.id), 'changed-meanwhile');
    assert.equal(await a.credentials.secretOf(before[1]!.id), 'before-2');
    assert.equal(await a.credentials.secretOf(before[2]!.id), 'before-3');
    // Four credentials, their five versions (three made before, one made and one changed meanwhile), the key check.
    assert.equal(r.rewrapped, 10, 'four credentials, five versions and the key check');
    assert.deepEqual(await a.credentials.currentSecret(before[0]!.id), { secret: 'changed-meanwhile', version: 2 });
    assert.deepEqual(await a.credentials.currentSecret(created), { secret: 'created-meanwhile', version: 1 });
    assert.ok(lines.some((l) => l.includes('changed while they were re-wrapped')), lines.join('\n'));
  });
});
