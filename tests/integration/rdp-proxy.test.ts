// The RDP proxy end to end: a real xfreerdp (under Xvfb) through the proxy daemon to a real xrdp — the desktop
// shows logged in with the vaulted credential, typed keys reach the target's shell, the session is recorded,
// and a wrong Warden password never reaches the target.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import * as P from '../../daemons/rdp-proxy/protocol/index.js';
import { rdpLabMissing, startRdpClient, startXrdp, uniqueName, type Frame, type RdpClient, type Xrdp } from '../helpers/rdp-lab.js';
import { pictureDifference } from '../helpers/rdp-frames.js';
import { rdpLab, type RdpLab } from '../helpers/rdp-proxy.js';
import { startNlaTarget, type NlaTarget } from '../helpers/rdp-nla-target.js';
import { tempDir } from '../helpers/fixtures.js';
import { TotpService } from '../../appliance/auth/index.js';

const missing = rdpLabMissing();

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('RDP proxy: xfreerdp → warden-rdp-proxy → xrdp', { timeout: 300_000 }, () => {
  if (missing.length) {
    test('RDP proxy', (t) => t.skip(`not installed: ${missing.join(', ')} (the Makefile's DEB_PACKAGES install them)`));
    return;
  }
  let target: Xrdp;
  let lab: RdpLab;
  const clients: RdpClient[] = [];
  let lastScreen: Frame | undefined;

  /** A "target" that only counts the connections it gets: a refused login must never dial it. */
  const decoy = { server: net.createServer((s) => (decoy.connections++, s.destroy())), connections: 0, port: 0 };

  before(async () => {
    target = await startXrdp({ user: 'wrdpproxy' });
    lab = await rdpLab();
    await lab.addUser('ana');
    await lab.addUser('bob');
    await lab.addHost('win01', target.port, { username: target.user, password: target.password });
    // Pinned with another certificate: the target now shows a different one.
    await lab.addHost('moved', target.port, { username: target.user, password: target.password });
    assert.equal(await lab.a.hostKeys.checkHostKey(lab.hosts.moved!.deviceId, 'rdp', 'AB:'.repeat(31) + 'AB'), 'pinned');
    await new Promise<void>((resolve) => decoy.server.listen(0, '127.0.0.1', resolve));
    decoy.port = (decoy.server.address() as net.AddressInfo).port;
    await lab.addHost('decoy', decoy.port, { username: 'nobody', password: 'Never-Sent-1' });
    await lab.addGroup('rdp-admins', ['ana'], ['win01', 'moved', 'decoy']);
    await lab.startProxy();
  });
  after(async () => {
    for (const c of clients) await c.stop().catch(() => {});
    await lab?.stop();
    await target?.stop();
    decoy.server.close();
  });

  async function client(user: string, password: string, extra: string[] = []): Promise<RdpClient> {
    const c = await startRdpClient({ port: lab.proxy.port, user, password, extra });
    clients.push(c);
    return c;
  }

  /** The newest session row (by its start event). */
  async function lastSession(): Promise<string | undefined> {
    const [ev] = await lab.a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return ev ? (JSON.parse(ev.detail).session as string) : undefined;
  }

  async function closedRow(id: string) {
    let row = await lab.a.store.repos.proxySessions.byId(id);
    for (let i = 0; i < 100 && row?.status !== 'closed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      row = await lab.a.store.repos.proxySessions.byId(id);
    }
    return row!;
  }

  test('the right Warden password lands on the target desktop, logged in with the vaulted credential; keys reach its shell', async (t) => {
    const client = await startRdpClient({ port: lab.proxy.port, user: 'ana@win01', password: lab.users.ana!.password });
    clients.push(client);
    await client.waitForDesktop(30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\nproxy:\n${lab.proxy.output()}\nclient:\n${client.output()}`);
    });
    const file = `/tmp/${uniqueName()}`;
    t.after(() => rmSync(file, { force: true }));
    await client.type(`touch ${file}`);
    await client.key('Return');
    await until(`${file} to appear`, () => existsSync(file));
    assert.equal(statSync(file).uid, Number(execFileSync('id', ['-u', target.user], { encoding: 'utf8' })));
    // What the user saw last, to hold the recording against: the screen once it has settled.
    await new Promise((r) => setTimeout(r, 1500));
    lastScreen = await client.frame();
    await client.stop();
  });

  test('the session row closes with its bytes and has a recording; no password reaches the disk in any encoding', async () => {
    const id = (await lastSession())!;
    const row = await closedRow(id);
    assert.equal(row.status, 'closed');
    assert.equal(row.protocol, 'rdp');
    assert.ok(row.bytes_out > 10_000, `bytes out ${row.bytes_out}`);
    assert.ok(row.bytes_in > 100, `bytes in ${row.bytes_in}`);
    const auditor = { username: 'admin', profile: 'administrator', ip: '127.0.0.1' } as never;
    const rec = await lab.a.recordings.bySession(auditor, id);
    assert.ok(rec, 'a recording');
    // Rendered, its last frame is what the client showed at the end.
    const rendered = await lab.a.recordings.rdpFrames(auditor, rec.id, { format: 'png' });
    let last: { width: number; height: number; rgba: Uint8Array } | undefined;
    for await (const f of rendered.frames) last = f;
    assert.ok(last && lastScreen, 'a rendered frame and a screenshot');
    const rgba = Buffer.alloc(lastScreen.width * lastScreen.height * 4, 255);
    for (let i = 0, j = 0; i < lastScreen.data.length; i += 3, j += 4) lastScreen.data.copy(rgba, j, i, i + 3);
    const diff = pictureDifference(last, { width: lastScreen.width, height: lastScreen.height, rgba }, 8);
    assert.ok(diff.differing < last.width * last.height * 0.005, `${diff.differing} pixels differ (max delta ${diff.maxDelta})`);
    // No secret on disk, in any encoding: the database, the recordings, the logs.
    const secrets = [target.password, lab.users.ana!.password];
    for (const f of walk(lab.home.home)) {
      const bytes = readFileSync(f);
      for (const secret of secrets) {
        for (const enc of ['utf8', 'utf16le'] as const) assert.equal(bytes.indexOf(Buffer.from(secret, enc)), -1, `${secret} (${enc}) in ${f}`);
      }
    }
  });

  test('a wrong Warden password gets no desktop, and the target is never dialled', async () => {
    const before = decoy.connections;
    const c = await client('ana@decoy', 'Wrong-Password-1');
    await assert.rejects(c.waitForDesktop(15_000, { colour: null }));
    // Told in the client's own terms (Set Error Info), one answer whatever the reason.
    await c.exited;
    assert.match(c.output(), /ERRINFO_SERVER_DENIED_CONNECTION/);
    assert.equal(decoy.connections, before, 'the proxy dialled the target before the person was authenticated');
    const [ev] = await lab.a.store.repos.auditEvents.query({ type: 'auth.login', limit: 1 });
    assert.equal(ev!.outcome, 'failure');
    await c.stop();
    // The same login with the right password does dial it (the decoy hangs up): the check above can fail.
    const ok = await client('ana@decoy', lab.users.ana!.password);
    await until('the decoy to be dialled', () => decoy.connections === before + 1);
    await ok.stop();
  });

  test('a user outside the group, or a malformed name, gets nothing and is audited', async () => {
    const c = await client('bob@win01', lab.users.bob!.password);
    await assert.rejects(c.waitForDesktop(10_000));
    await c.stop();
    const [ev] = await lab.a.store.repos.auditEvents.query({ type: 'session.login_refused', limit: 1 });
    assert.match(ev!.detail, /win01/);
  });

  test('an account with TOTP appends its code to the password ("password:123456"); without it, or a wrong one, denied', async () => {
    const tina = await lab.addUser('tina');
    await lab.a.users.setMfaMethod({ username: 'admin', ip: '127.0.0.1' }, tina.id, 'totp');
    const { secret } = await lab.a.totp.enrol((await lab.a.store.repos.users.byId(tina.id))!);
    // Confirmed with the previous step's code (as the first web login would): this step stays free for the proxy.
    const step = Math.floor(Date.now() / 30_000) - 1;
    await lab.a.totp.check((await lab.a.store.repos.users.byId(tina.id))!, await TotpService.codeFor(secret, step * 30_000));
    await lab.addGroup('rdp-totp', ['tina'], ['win01']);
    const bare = await client('tina@win01', tina.password);
    await assert.rejects(bare.waitForDesktop(10_000));
    await bare.stop();
    const right = await TotpService.codeFor(secret, (step + 1) * 30_000);
    const wrong = await client('tina@win01', `${tina.password}:${String((Number(right) + 1) % 1_000_000).padStart(6, '0')}`);
    await assert.rejects(wrong.waitForDesktop(10_000));
    await wrong.stop();
    const ok = await client('tina@win01', `${tina.password}:${right}`);
    await ok.waitForDesktop(30_000);
    await ok.stop();
    const [ev] = await lab.a.store.repos.auditEvents.query({ type: 'auth.proxy_login', limit: 1 });
    assert.deepEqual([ev!.actor, JSON.parse(ev!.detail).protocol, JSON.parse(ev!.detail).method], ['tina', 'rdp', 'password+totp']);
  });

  test('a one-time ticket from the web logs in without a password: used once, from its own address, within its time', async () => {
    const login = await lab.a.auth.login({ username: 'ana', password: lab.users.ana!.password, ip: '127.0.0.1' });
    const ctx = await lab.a.auth.authenticate(login.token, '127.0.0.1');
    const actor = { userId: ctx.user.id, username: 'ana', ip: '127.0.0.1', webSessionId: ctx.sessionId };
    const host = lab.hosts.win01!;
    const issued = await lab.a.rdpTickets.issue(actor, { deviceId: host.deviceId, credentialId: host.credentialId, sourceIp: '127.0.0.1' });
    const withTicket = (t: string) => client('ana', '', [`/load-balance-info:tsv://warden/${t}`]);
    const first = await withTicket(issued.ticket);
    await first.waitForDesktop(30_000);
    await first.stop();
    // Spent: the same ticket again gets nothing.
    const again = await withTicket(issued.ticket);
    await assert.rejects(again.waitForDesktop(10_000));
    await again.stop();
    // Bound to another address: refused from this one.
    const elsewhere = await lab.a.rdpTickets.issue(actor, { deviceId: host.deviceId, credentialId: host.credentialId, sourceIp: '127.0.0.2' });
    const wrongSource = await withTicket(elsewhere.ticket);
    await assert.rejects(wrongSource.waitForDesktop(10_000));
    await wrongSource.stop();
    // Past its 60 s (the daemon's clock cannot be moved: the row's expiry is).
    const stale = await lab.a.rdpTickets.issue(actor, { deviceId: host.deviceId, credentialId: host.credentialId, sourceIp: '127.0.0.1' });
    await lab.a.store.db.updateTable('rdp_tickets').set({ expires_at: Date.now() - 1000 }).where('expires_at', '=', stale.expiresAt).execute();
    const expired = await withTicket(stale.ticket);
    await assert.rejects(expired.waitForDesktop(10_000));
    await expired.stop();
    // xfreerdp tries a refused connection again, so each refusal may be audited more than once.
    const refused = await lab.a.store.repos.auditEvents.query({ type: 'rdp_ticket.refused', limit: 20 });
    assert.deepEqual([...new Set(refused.map((e) => JSON.parse(e.detail).refusal))].sort(), ['expired', 'used', 'wrong-source']);
  });

  test('a target whose certificate changed is refused and the change is a high-severity event', async () => {
    const c = await client('ana@moved', lab.users.ana!.password);
    await assert.rejects(c.waitForDesktop(10_000));
    await c.stop();
    const [ev] = await lab.a.store.repos.auditEvents.query({ type: 'device.host_key_mismatch', limit: 1 });
    assert.ok(ev, 'audited');
    assert.equal(JSON.parse(ev.detail).deviceId ?? lab.hosts.moved!.deviceId, lab.hosts.moved!.deviceId);
  });

  test('an administrator ends a live RDP session: the client is disconnected and the row says why', async () => {
    const c = await client('ana@win01', lab.users.ana!.password);
    await c.waitForDesktop(30_000);
    const id = (await lastSession())!;
    // Listed live beside the SSH sessions, with its protocol.
    const live = await lab.a.sessions.liveSessions({ profile: 'administrator' });
    assert.equal(live.find((v) => v.id === id)?.protocol, 'rdp');
    await lab.a.sessions.requestEnd({ username: 'admin', ip: '127.0.0.1', profile: 'administrator' }, id);
    const code = await Promise.race([c.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    assert.notEqual(code, 'still running');
    // Told in the client's own terms: "disconnected by an administrative tool".
    assert.match(c.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
    const row = await closedRow(id);
    assert.match(row.end_reason!, /^ended/);
  });

  test('disabling the user ends their live RDP session (the change feed reaches the proxy process)', async () => {
    const dora = await lab.addUser('dora');
    await lab.addGroup('rdp-dora', ['dora'], ['win01']);
    const c = await client('dora@win01', dora.password);
    await c.waitForDesktop(30_000);
    const id = (await lastSession())!;
    await lab.a.users.setStatus({ username: 'admin', ip: '127.0.0.1' }, dora.id, 'disabled');
    const code = await Promise.race([c.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10_000))]);
    assert.notEqual(code, 'still running');
    assert.match(c.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
    const row = await closedRow(id);
    assert.equal(row.status, 'closed');
    assert.equal(row.end_reason, 'ended: user-disabled');
  });

  test('a target that requires NLA is reached with the vaulted credential through CredSSP', async (t) => {
    const dir = tempDir('warden-nla-');
    t.after(() => dir.cleanup());
    const nla: NlaTarget = await startNlaTarget(dir.dir, 'nlauser', 'Nla-Target-Secret-1');
    t.after(() => nla.stop());
    await lab.addHost('winnla', nla.port, { username: 'nlauser', password: 'Nla-Target-Secret-1' });
    await lab.addGroup('rdp-nla', ['ana'], ['winnla']);
    const c = await client('ana@winnla', lab.users.ana!.password);
    // The shadow server mirrors a blank X display, so the picture cannot say "logged in"; the session can: it
    // opens (CredSSP, MCS and the ClientInfo went through) and the target's updates keep flowing to the client.
    let id: string | undefined;
    await until('the NLA session to carry the target\'s screen', async () => {
      id = await lastSession();
      const row = id ? await lab.a.store.repos.proxySessions.byId(id) : undefined;
      return row?.status === 'open' && row.device_id === lab.hosts.winnla!.deviceId && row.bytes_out > 10_000;
    }, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\nproxy:\n${lab.proxy.output().slice(-3000)}\nshadow:\n${nla.log().slice(-2000)}`);
    });
    assert.equal(c.proc.exitCode, null, 'the client is still connected');
    await c.stop();
    // A wrong vaulted password: CredSSP fails at the target, the user gets no desktop, the session row says why.
    await lab.addHost('winnla-bad', nla.port, { username: 'nlauser', password: 'Not-The-Password-1' });
    await lab.addGroup('rdp-nla-bad', ['ana'], ['winnla-bad']);
    const bad = await client('ana@winnla-bad', lab.users.ana!.password);
    await assert.rejects(bad.waitForDesktop(10_000, { colour: null }));
    await bad.stop();
    const row = await closedRow((await lastSession())!);
    assert.equal(row.end_reason, 'target-auth-failed');
  });

  test('malformed and truncated client streams close only their own connection', async () => {
    const port = lab.proxy.port;
    const talk = (bytes: Buffer[]) =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          for (const b of bytes) s.write(b);
        });
        s.on('error', () => {});
        s.on('data', () => {});
        s.setTimeout(5000, () => s.destroy());
        s.on('close', () => resolve());
      });
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const cr = P.buildConnectionRequest({ cookie: 'ana@win01', requestedProtocols: P.PROTOCOL_SSL });
    const cases: Buffer[][] = [
      [Buffer.from('GET / HTTP/1.1\r\n\r\n')],
      [cr.subarray(0, 7)],
      [Buffer.from([0x03, 0x00, 0xff, 0xff, 0xe0])],
      [Buffer.from([0x03, 0x00, 0x00, 0x02])],
      [P.buildConnectionRequest({ cookie: 'ana@win01', requestedProtocols: P.PROTOCOL_RDP })],
    ];
    for (let i = 0; i < 40; i++) {
      const m = Buffer.from(cr);
      for (let k = 0; k < 3; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      cases.push([m.subarray(0, 1 + Math.floor(rand() * m.length))]);
    }
    await Promise.all(cases.map(talk));
    // After the X.224 exchange, garbage inside TLS.
    for (let i = 0; i < 10; i++) {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.write(cr);
      await new Promise((r) => s.once('data', r));
      const t = tls.connect({ socket: s, rejectUnauthorized: false });
      t.on('error', () => {});
      await new Promise((r) => t.once('secureConnect', r));
      const junk = Buffer.alloc(200 + Math.floor(rand() * 800));
      for (let k = 0; k < junk.length; k++) junk[k] = Math.floor(rand() * 256);
      junk[0] = 0x03;
      junk[1] = 0;
      junk.writeUInt16BE(junk.length, 2);
      t.write(junk);
      await new Promise<void>((r) => {
        t.on('close', () => r());
        setTimeout(() => (t.destroy(), r()), 5000);
      });
    }
    assert.equal(lab.proxy.proc.exitCode, null, 'the daemon is still running');
    const c = await client('ana@win01', lab.users.ana!.password);
    await c.waitForDesktop(30_000);
    await c.stop();
  });

  test('a proxy killed with SIGKILL mid-session leaves a recording that verifies and renders up to its last chunk', async () => {
    const doomed = await lab.startProxy();
    const c = await client('ana@win01', lab.users.ana!.password);
    await c.waitForDesktop(30_000);
    const id = (await lastSession())!;
    // Past the writer's flush interval (1 s): what the client saw is in a sealed chunk on disk.
    await new Promise((r) => setTimeout(r, 1500));
    doomed.proc.kill('SIGKILL');
    await doomed.exited;
    await c.stop();
    const auditor = { username: 'admin', profile: 'administrator', ip: '127.0.0.1' } as never;
    const view = (await lab.a.recordings.bySession(auditor, id))!;
    assert.equal(view.status, 'recording', 'nobody closed it');
    const v = await lab.a.recordings.verify(auditor, view.id);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.complete, false);
    let last: { rgba: Uint8Array } | undefined;
    for await (const f of (await lab.a.recordings.rdpFrames(auditor, view.id, { format: 'png' })).frames) last = f;
    assert.ok(last, 'a frame rendered');
    const px = Buffer.from(last.rgba.buffer, last.rgba.byteOffset, last.rgba.byteLength);
    const colours = new Set<number>();
    for (let i = 0; i + 4 <= px.length; i += 4 * 97) colours.add(px.readUInt32LE(i));
    assert.ok(colours.size > 1, 'the frame is a picture, not a blank');
  });

  test('SIGTERM ends live sessions as proxy-stopped, their recordings complete, and the daemon exits 0', async () => {
    const stopping = await lab.startProxy();
    const c = await client('ana@win01', lab.users.ana!.password);
    await c.waitForDesktop(30_000);
    const id = (await lastSession())!;
    await stopping.stop();
    assert.equal(await stopping.exited, 0);
    const row = await closedRow(id);
    assert.equal(row.end_reason, 'proxy-stopped');
    const view = (await lab.a.recordings.bySession({ username: 'admin', profile: 'administrator', ip: '127.0.0.1' } as never, id))!;
    assert.equal(view.status, 'complete');
    await c.stop();
  });
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
