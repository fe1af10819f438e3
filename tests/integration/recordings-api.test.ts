// Recordings for auditors over the web API and orbit: list, one, verify, asciicast export (which asciinema
// reads back as the exact output); a session user is refused; a tampered file fails with exit code 1.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { runOrbit } from '../helpers/orbit.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const OUTPUT = ['\x1b[32mana@db01\x1b[0m:~$ ', 'uptime\r\n', ' 10:00:00 up 1 day,  load average: 0.00\r\n', 'ana@db01:~$ '];

describe('recordings API and orbit recording', () => {
  let home: InitializedHome;
  let a: Appliance;
  let d: RunningDaemon;
  const auditor = {} as { client: ApiClient };
  const user = {} as { client: ApiClient };
  let id = '';
  const made = { user: 0, device: 0, credential: 0 };

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    const ana = await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user' });
    const audrey = await a.users.create(admin, { username: 'audrey', fullName: 'Audrey', email: 'audrey@example.test', profile: 'auditor' });
    const device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.21', connectivity: 'SSH:22' })).id;
    const credential = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'Target-S3cret-value' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'db', userIds: [ana.user.id], deviceIds: [device], credentialIds: [credential] });
    Object.assign(made, { user: ana.user.id, device, credential });
    const admitted = await a.sessions.open({ userId: ana.user.id, deviceId: device, credentialId: credential, protocol: 'ssh', source: '127.0.0.1' });
    assert.ok(admitted.admitted);
    const rec = await a.recordings.start(admitted.session, { cols: 100, rows: 30, term: 'xterm-256color' });
    for (const o of OUTPUT) {
      rec.writer.output(Buffer.from(o));
      rec.writer.input(Buffer.from('u'));
      await rec.writer.flush();
    }
    await rec.close();
    await admitted.session.close({ reason: 'client-closed' });
    id = rec.id;
    d = await startWebDaemon(home);
    auditor.client = new ApiClient(d);
    await auditor.client.loginAndChange('audrey', audrey.oneTimePassword!, strongPassword());
    user.client = new ApiClient(d);
    await user.client.loginAndChange('ana', ana.oneTimePassword!, strongPassword());
  });
  after(async () => {
    await d?.stop();
    await a?.close();
    home?.cleanup();
  });

  test('GET /api/v1/recordings, /:id and /:id/verify for an auditor; 403 for a session user; 400 and 404', async () => {
    const list = await auditor.client.call('GET', '/api/v1/recordings?user=ana');
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(list.json.recordings.map((r: { id: string }) => r.id), [id]);
    assert.equal(list.json.recordings[0].status, 'complete');
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings?user=nobody')).json.recordings.length, 0);
    const one = await auditor.client.call('GET', `/api/v1/recordings/${id}`);
    assert.equal(one.json.recording.device, 'db01');
    const v = await auditor.client.call('GET', `/api/v1/recordings/${id}/verify`);
    assert.deepEqual({ ok: v.json.verdict.ok, complete: v.json.verdict.complete, chunks: v.json.verdict.chunks }, { ok: true, complete: true, chunks: 5 });
    for (const p of ['/api/v1/recordings', `/api/v1/recordings/${id}`, `/api/v1/recordings/${id}/verify`, `/api/v1/recordings/${id}/asciicast`]) {
      assert.equal((await user.client.call('GET', p)).status, 403, p);
    }
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings/../../etc')).status, 404);
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings/not-an-id')).status, 400);
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  test('GET /api/v1/recordings/:id/asciicast streams a cast that asciinema reads back as the exact output', async () => {
    const r = await auditor.client.call('GET', `/api/v1/recordings/${id}/asciicast?input=1`);
    assert.equal(r.status, 200, r.body);
    assert.match(String(r.headers['content-type']), /^application\/x-asciicast/);
    const lines = r.body.trimEnd().split('\n');
    assert.deepEqual(JSON.parse(lines[0]!).width, 100);
    assert.equal(lines.filter((l) => (JSON.parse(l) as unknown[])[1] === 'i').length, 4);
    const file = path.join(home.home, 'api.cast');
    writeFileSync(file, r.body);
    const out = path.join(home.home, 'api.out');
    execFileSync('script', ['-qec', `asciinema cat ${file} > ${out}`, '/dev/null'], { timeout: 20_000, stdio: ['ignore', 'ignore', 'inherit'] });
    assert.equal(readFileSync(out, 'utf8'), OUTPUT.join(''));
  });

  test('orbit recording list, verify and export; a tampered file fails verify with exit 1; usage errors exit 2', async () => {
    const list = await runOrbit(home.home, ['recording', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(JSON.parse(list.stdout).recordings[0].id, id);
    const table = await runOrbit(home.home, ['recording', 'list']);
    assert.match(table.stdout, new RegExp(`${id}\\s+ana\\s+root@db01`));
    const ok = await runOrbit(home.home, ['recording', 'verify', id]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /intact: 5 chunks/);
    const cast = path.join(home.home, 'orbit.cast');
    const exp = await runOrbit(home.home, ['recording', 'export', id, '--format', 'asciicast', '--output', cast]);
    assert.equal(exp.code, 0, exp.stderr);
    const out = path.join(home.home, 'orbit.out');
    execFileSync('script', ['-qec', `asciinema cat ${cast} > ${out}`, '/dev/null'], { timeout: 20_000, stdio: ['ignore', 'ignore', 'inherit'] });
    assert.equal(readFileSync(out, 'utf8'), OUTPUT.join(''));
    assert.equal((await runOrbit(home.home, ['recording', 'export', id, '--output', cast])).code, 1, 'an existing file is not overwritten');
    const stdout = await runOrbit(home.home, ['recording', 'export', id]);
    assert.equal(stdout.stdout.split('\n')[0], readFileSync(cast, 'utf8').split('\n')[0]);
    assert.equal((await runOrbit(home.home, ['recording', 'verify', 'nope'])).code, 2);
    assert.equal((await runOrbit(home.home, ['recording', 'export', id, '--format', 'mp4'])).code, 2);
    const help = await runOrbit(home.home, ['recording', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /verify/);
    const file = path.join(home.home, 'recordings', `${JSON.parse(list.stdout).recordings[0].sessionId}.wrec`);
    const bytes = readFileSync(file);
    // A byte of the first chunk's ciphertext (after the magic, the header length and the header).
    bytes[12 + 4 + bytes.readUInt32BE(12) + 4 + 3]! ^= 1;
    writeFileSync(file, bytes);
    const bad = await runOrbit(home.home, ['recording', 'verify', id]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAILED verification: chunk 0 fails authentication/);
    const badExport = await runOrbit(home.home, ['recording', 'export', id]);
    assert.equal(badExport.code, 1);
    assert.match(badExport.stderr, /failed verification: chunk 0 fails authentication .*\[RECORDING_UNREADABLE\]/);
    assert.equal(badExport.stdout, '', 'nothing of an altered recording is exported');
    const api = await auditor.client.call('GET', `/api/v1/recordings/${id}/asciicast`);
    assert.equal(api.status, 422);
    assert.equal(api.json.error, 'RECORDING_UNREADABLE');
  });

  test('GET /api/v1/recordings pages by keyset (before → nextBefore); /:id/commands lists the session\'s commands with their place, paged', async () => {
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const admitted = await a.sessions.open({ userId: made.user, deviceId: made.device, credentialId: made.credential, protocol: 'ssh', source: '127.0.0.1' });
      assert.ok(admitted.admitted);
      const rec = await a.recordings.start(admitted.session, { cols: 80, rows: 24, term: 'xterm' });
      rec.writer.output(Buffer.from(`page ${n}\r\n`));
      const started = Date.now();
      await a.sessions.recordActivity(admitted.session.id, {
        commands: Array.from({ length: 3 * n }, (_, i) => ({ at: started + i, offsetMs: 1500 * i, command: `step-${n}-${i}`, action: 'allow' as const, rule: null })),
        output: [],
      });
      await rec.close();
      await admitted.session.close({ reason: 'client-closed' });
      ids.push(rec.id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const whole = await auditor.client.call('GET', '/api/v1/recordings');
    assert.equal(whole.status, 200, whole.body);
    assert.deepEqual(whole.json.recordings.map((r: { id: string }) => r.id), [ids[1], ids[0], id], 'newest first, as before');
    assert.equal(whole.json.nextBefore, null, 'all on one page: no older page');
    const first = await auditor.client.call('GET', '/api/v1/recordings?limit=2');
    assert.deepEqual(first.json.recordings.map((r: { id: string }) => r.id), [ids[1], ids[0]]);
    assert.match(first.json.nextBefore, /^\d+_[0-9a-f-]{36}$/);
    const second = await auditor.client.call('GET', `/api/v1/recordings?limit=2&before=${encodeURIComponent(first.json.nextBefore)}`);
    assert.deepEqual(second.json.recordings.map((r: { id: string }) => r.id), [id]);
    assert.equal(second.json.nextBefore, null);
    const filtered = await auditor.client.call('GET', `/api/v1/recordings?limit=1&user=ana&before=${encodeURIComponent(first.json.nextBefore)}`);
    assert.deepEqual(filtered.json.recordings.map((r: { id: string }) => r.id), [id], 'filters and the cursor together');
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings?before=yesterday')).status, 400);
    assert.equal((await user.client.call('GET', `/api/v1/recordings?before=${encodeURIComponent(first.json.nextBefore)}`)).status, 403);

    const commands = await auditor.client.call('GET', `/api/v1/recordings/${ids[1]}/commands`);
    assert.equal(commands.status, 200, commands.body);
    assert.equal(commands.json.total, 6);
    assert.deepEqual(
      commands.json.commands.map((c: { command: string; offsetSeconds: number }) => [c.command, c.offsetSeconds]),
      [0, 1, 2, 3, 4, 5].map((i) => [`step-2-${i}`, 1.5 * i]),
    );
    const page = await auditor.client.call('GET', `/api/v1/recordings/${ids[1]}/commands?limit=2&offset=4`);
    assert.deepEqual(page.json.commands.map((c: { command: string }) => c.command), ['step-2-4', 'step-2-5']);
    assert.equal(page.json.total, 6);
    assert.equal((await auditor.client.call('GET', `/api/v1/recordings/${ids[0]}/commands`)).json.total, 3, 'only that session\'s');
    assert.deepEqual((await auditor.client.call('GET', `/api/v1/recordings/${id}/commands`)).json, { commands: [], total: 0, limit: 50, offset: 0 });
    assert.equal((await user.client.call('GET', `/api/v1/recordings/${ids[1]}/commands`)).status, 403);
    assert.equal((await auditor.client.call('GET', `/api/v1/recordings/${ids[1]}/commands?limit=501`)).status, 400);
    assert.equal((await auditor.client.call('GET', '/api/v1/recordings/00000000-0000-4000-8000-000000000000/commands')).status, 404);
  });
});
