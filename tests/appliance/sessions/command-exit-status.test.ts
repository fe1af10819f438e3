// An interactive command's exit status reaches its stored row whenever the shell reports it: with the
// command when it comes before the batch is written, as an update of the row when the command was already
// stored (a long-running command); a command whose status never comes stays null. The search answers with it.
// On a real appliance (SoftHSM token, SQLite).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import type { CommandActivity, ProxySession } from '../../../appliance/sessions/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.0.1' };

describe('command exit statuses: recorder, store, search', () => {
  let home: InitializedHome;
  let a: Appliance;
  let session: ProxySession;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    const user = (await a.users.create(admin, { username: 'eve', fullName: 'eve', email: 'eve@example.test', profile: 'privileged-access-user', password: strongPassword() })).user.id;
    const device = (await a.devices.createDevice(admin, { hostname: 'db07', address: '127.0.0.27', connectivity: 'SSH:22' })).id;
    const cred = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'S3cret-db07-zzzzzzzzzz' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'g', userIds: [user], deviceIds: [device], credentialIds: [cred] });
    const r = await a.sessions.open({ userId: user, deviceId: device, credentialId: cred, protocol: 'ssh', source: '127.0.0.77' });
    assert.ok(r.admitted);
    session = r.session;
  });
  after(async () => {
    await session?.close({ reason: 'test' });
    await a?.close();
    home?.cleanup();
  });

  test('a status before the write goes with the command; one after it updates the stored row; none stays null', async () => {
    const errors: unknown[] = [];
    // Written only when flushed here: the test decides what is already stored.
    const recorder = a.sessions.activityRecorder(session.id, { flushMs: 600_000, onError: (e) => errors.push(e) });
    const t = Date.now();
    const cmd = (at: number, command: string): CommandActivity => ({ at, command, action: 'allow', rule: null });
    const quick = cmd(t, 'true && echo exitcheck-quick');
    const long = cmd(t + 1, 'sleep 600; echo exitcheck-long');
    const twin1 = cmd(t + 2, 'echo exitcheck-twin');
    const twin2 = cmd(t + 2, 'echo exitcheck-twin');
    const unknown = cmd(t + 3, 'echo exitcheck-unknown');
    for (const c of [quick, long, twin1, twin2, unknown]) await recorder.command(c);
    recorder.exitStatus(quick, 0);
    await recorder.flush();
    assert.deepEqual(
      (await a.store.repos.sessionCommands.commandsOf(session.id)).map((c) => [c.command, c.exitStatus]),
      [
        [quick.command, 0],
        [long.command, null],
        [twin1.command, null],
        [twin2.command, null],
        [unknown.command, null],
      ],
    );
    recorder.exitStatus(long, 130);
    recorder.exitStatus(twin2, 4);
    assert.equal(long.exitStatus, undefined, 'a command already handed to a write is not changed, its row is');
    await recorder.close();
    assert.deepEqual(errors, []);
    const stored = await a.store.repos.sessionCommands.commandsOf(session.id);
    assert.deepEqual(
      stored.map((c) => [c.command, c.exitStatus]),
      [
        [quick.command, 0],
        [long.command, 130],
        [twin1.command, 4],
        [twin2.command, null],
        [unknown.command, null],
      ],
      'two alike rows: one of them takes the status, not both',
    );
    recorder.exitStatus(unknown, 9);
    await recorder.flush();
    assert.equal((await a.store.repos.sessionCommands.commandsOf(session.id)).at(-1)!.exitStatus, null, 'nothing is written after close');

    const found = await a.sessions.search.find({ command: 'exitcheck' });
    assert.deepEqual(
      found.map((h) => [h.command, h.exitStatus]),
      [
        [unknown.command, null],
        [twin2.command, null],
        [twin1.command, 4],
        [long.command, 130],
        [quick.command, 0],
      ],
    );
    const text = await a.sessions.search.find({ text: 'exitcheck', user: 'eve' });
    assert.ok(text.every((h) => h.exitStatus === null));
  });
});
