// Recordings of admitted sessions on a real appliance (SoftHSM token): the row and event at the start and the
// end, auditors (and only they) list, verify and export, and verification holds the file against its row.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import type { ProxySession } from '../../../appliance/sessions/index.js';
import { openRecording } from '../../../appliance/recording/index.js';
import { initializedHome, strongPassword, type InitializedHome } from '../../helpers/fixtures.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const auditor = { username: 'audrey', ip: '127.0.0.1', profile: 'auditor' };
const user = { username: 'ana', ip: '127.0.0.1', profile: 'privileged-access-user' };

describe('recording service', () => {
  let home: InitializedHome;
  let a: Appliance;
  let ana: number;
  let device: number;
  let credential: number;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    ana = (await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user', password: strongPassword() })).user.id;
    await a.users.create(admin, { username: 'audrey', fullName: 'Audrey', email: 'audrey@example.test', profile: 'auditor', password: strongPassword() });
    device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.21', connectivity: 'SSH:22' })).id;
    credential = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'Target-S3cret-value' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'db', userIds: [ana], deviceIds: [device], credentialIds: [credential] });
  });
  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  async function admitted(): Promise<ProxySession> {
    const r = await a.sessions.open({ userId: ana, deviceId: device, credentialId: credential, protocol: 'ssh', source: '127.0.0.1' });
    assert.ok(r.admitted);
    return r.session;
  }

  async function recorded(): Promise<{ id: string; session: ProxySession; file: string }> {
    const session = await admitted();
    const rec = await a.recordings.start(session, { cols: 80, rows: 24, term: 'xterm' });
    for (let i = 0; i < 3; i++) {
      rec.writer.output(Buffer.from(`out ${i}\r\n`));
      await rec.writer.flush();
    }
    await rec.close();
    return { id: rec.id, session, file: rec.writer.path };
  }

  test('a recording has its row and events; auditors list and verify it, a session user may not', async () => {
    const { id, session, file } = await recorded();
    assert.equal(path.dirname(file), path.join(home.home, 'recordings'));
    const list = await a.recordings.list(auditor);
    const mine = list.find((r) => r.id === id)!;
    assert.deepEqual({ session: mine.sessionId, status: mine.status, chunks: mine.chunks, user: mine.user, device: mine.device, credential: mine.credential }, { session: session.id, status: 'complete', chunks: 4, user: 'ana', device: 'db01', credential: 'root' });
    assert.equal(mine.bytes, readFileSync(file).length);
    await assert.rejects(a.recordings.list(user), (e: Error & { code?: string }) => e.code === 'AUTH_FORBIDDEN');
    await assert.rejects(a.recordings.verify(user, id), (e: Error & { code?: string }) => e.code === 'AUTH_FORBIDDEN');
    const v = await a.recordings.verify(auditor, id);
    assert.deepEqual({ ok: v.ok, complete: v.complete, chunks: v.chunks }, { ok: true, complete: true, chunks: 4 });
    const types = (await a.audit.events({ limit: 50 })).filter((e) => e.type.startsWith('recording.')).map((e) => `${e.type}:${e.outcome}`);
    for (const t of ['recording.start:success', 'recording.end:success', 'recording.verify:success']) assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    await session.close({ reason: 'test' });
  });

  test('a closed recording cut at a chunk boundary fails against its row; an altered one fails with a high-severity event', async () => {
    const { id, file } = await recorded();
    const original = readFileSync(file);
    truncateSync(file, original.length - (4 + readLastChunkLength(original)));
    const cut = await a.recordings.verify(auditor, id);
    assert.equal(cut.ok, false);
    assert.match(cut.problem!, /the row says 4 chunks/);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 30]! ^= 0x40;
    writeFileSync(file, flipped);
    const bad = await a.recordings.verify(auditor, id);
    assert.equal(bad.ok, false);
    const ev = (await a.audit.events({ limit: 5, type: 'recording.verify' }))[0]!;
    assert.equal(ev.outcome, 'failure');
    assert.equal(ev.severity, 'high');
  });

  test('asciicast export is audited and gives the output', async () => {
    const { id } = await recorded();
    const lines: string[] = [];
    for await (const l of await a.recordings.asciicast(auditor, id)) lines.push(l);
    assert.equal(JSON.parse(lines[0]!).version, 2);
    assert.deepEqual(lines.slice(1).map((l) => (JSON.parse(l) as unknown[])[2]), ['out 0\r\n', 'out 1\r\n', 'out 2\r\n']);
    const ev = (await a.audit.events({ limit: 1, type: 'recording.view' }))[0]!;
    assert.equal(ev.subject, `recording:${id}`);
  });

  test('a master key rotation re-wraps recording keys: closed and live recordings still open, the old header key does not', async () => {
    const before = await recorded();
    const session = await admitted();
    const live = await a.recordings.start(session, { cols: 80, rows: 24, term: 'xterm' });
    live.writer.output(Buffer.from('before the rotation\r\n'));
    await live.writer.flush();
    const r = await a.rotateMasterKey({ custodians: 3, threshold: 2, actor: 'test', writeShares: () => {} });
    assert.ok(r.rewrapped >= 2);
    live.writer.output(Buffer.from('after the rotation\r\n'));
    await live.close();
    for (const id of [before.id, live.id]) {
      const v = await a.recordings.verify(auditor, id);
      assert.deepEqual({ ok: v.ok, complete: v.complete }, { ok: true, complete: true }, v.problem);
    }
    const lines: string[] = [];
    for await (const l of await a.recordings.asciicast(auditor, live.id)) lines.push(l);
    assert.deepEqual(lines.slice(1).map((l) => (JSON.parse(l) as unknown[])[2]), ['before the rotation\r\n', 'after the rotation\r\n']);
    // The header still holds the key as first wrapped, under the destroyed master key.
    await assert.rejects(openRecording(before.file, a.keys), (e: Error & { code?: string }) => e.code === 'RECORDING_UNREADABLE');
    await session.close({ reason: 'test' });
  });

  test('a recording that cannot be written ends its session', async () => {
    const session = await admitted();
    let ended = '';
    session.onEndRequested((r) => (ended = r));
    const rec = await a.recordings.start(session, { cols: 80, rows: 24, term: 'xterm' });
    // The disk "falls behind" at once: a hard limit below one chunk.
    (rec.writer as unknown as { hardLimit: number }).hardLimit = 10;
    rec.writer.output(Buffer.from('more than ten bytes of output'));
    await rec.writer.flush().catch(() => {});
    await rec.close();
    assert.equal(ended, 'recording-failed');
    assert.equal((await a.recordings.get(auditor, rec.id)).status, 'failed');
    await session.close({ reason: 'test' });
  });
});

/** The ciphertext length of the last chunk of a recording file. */
function readLastChunkLength(buf: Buffer): number {
  let pos = 12 + 4 + buf.readUInt32BE(12);
  let last = 0;
  while (pos < buf.length) {
    last = buf.readUInt32BE(pos);
    pos += 4 + last + 16;
  }
  return last + 16;
}
