// The RDP lab itself, with no proxy: a real xfreerdp (under Xvfb) straight to a real xrdp (started here) — the
// desktop shows, keys typed in the client reach the account's shell, a wrong password gets no desktop, two labs
// run side by side, and stop() leaves nothing behind. Every RDP test and bench stands on this.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { processTree, rdpLabMissing, which, showsDesktop, startRdpClient, startXrdp, uniqueName, type RdpClient, type Xrdp } from '../helpers/rdp-lab.js';

const missing = rdpLabMissing();

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The display numbers of the Xvnc servers under a lab (`Xvnc :N ...`). */
function xvncDisplays(lab: Xrdp): number[] {
  return lab
    .processes()
    .filter((p) => p.comm === 'Xvnc')
    .map((p) => Number(/^Xvnc\0:(\d+)/.exec(readFileSync(`/proc/${p.pid}/cmdline`, 'latin1'))?.[1]));
}

/** Types a command that creates a file as whoever runs the shell, and waits for the file. */
async function touchThrough(client: RdpClient, t: { after: (fn: () => void) => void }): Promise<string> {
  const file = `/tmp/${uniqueName()}`;
  t.after(() => rmSync(file, { force: true }));
  await client.type(`touch ${file}`);
  await client.key('Return');
  await until(`${file} to appear`, () => existsSync(file));
  return file;
}

/** The certificate xrdp serves on `port`: X.224 Connection Request asking for TLS, then the TLS handshake. */
async function servedCertificate(port: number): Promise<X509Certificate> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    // TPKT (19 bytes) | X.224 CR (LI 14, no cookie) | RDP_NEG_REQ requesting PROTOCOL_SSL.
    socket.write(Buffer.from('03000013' + '0ee00000000000' + '0100080001000000', 'hex'));
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const onData = (d: Buffer): void => {
        got += d.length;
        if (got >= 19) {
          socket.off('data', onData);
          socket.pause();
          resolve();
        }
      };
      socket.on('data', onData).once('error', reject);
    });
    const secure = tls.connect({ socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    const cert = secure.getPeerX509Certificate()!;
    secure.destroy();
    return cert;
  } finally {
    socket.destroy();
  }
}

describe('RDP lab: xfreerdp under Xvfb straight to xrdp (no proxy)', { timeout: 240_000 }, () => {
  if (missing.length) {
    test('RDP lab', (t) => t.skip(`not installed: ${missing.join(', ')} (the Makefile's DEB_PACKAGES install them)`));
    return;
  }
  let lab: Xrdp;

  before(async () => {
    lab = await startXrdp({ user: 'wrdplab' });
  });
  after(async () => {
    await lab?.stop();
  });

  test('the right password shows the desktop, and keys typed in the client run as the account', async (t) => {
    const client = await startRdpClient({ port: lab.port, user: lab.user, password: lab.password });
    t.after(() => client.stop());
    const ms = await client.waitForDesktop(30_000);
    t.diagnostic(`xrdp listening ${lab.startupMs.toFixed(0)} ms after spawn (${lab.isolation}); desktop ${ms.toFixed(0)} ms after spawning xfreerdp (new session)`);

    const file = await touchThrough(client, t);
    const uid = Number(execFileSync('id', ['-u', lab.user], { encoding: 'utf8' }));
    assert.equal(statSync(file).uid, uid, 'the file belongs to the target account');

    const shot = path.join(os.tmpdir(), `${uniqueName('wrdp-shot')}.png`);
    t.after(() => rmSync(shot, { force: true }));
    await client.screenshot(shot);
    const png = PNG.sync.read(readFileSync(shot));
    assert.deepEqual([png.width, png.height], [1024, 768]);
    const rgb = Buffer.alloc(png.width * png.height * 3);
    for (let i = 0, j = 0; i < png.data.length; i += 4, j += 3) png.data.copy(rgb, j, i, i + 3);
    assert.ok(showsDesktop({ width: png.width, height: png.height, data: rgb }), 'the screenshot shows the lab desktop');

    // A second connection re-attaches to the same session (sesman's Default policy) and still takes input.
    await client.stop();
    const again = await startRdpClient({ port: lab.port, user: lab.user, password: lab.password });
    t.after(() => again.stop());
    t.diagnostic(`reconnect: desktop ${(await again.waitForDesktop(30_000)).toFixed(0)} ms after spawning xfreerdp`);
    assert.equal(xvncDisplays(lab).length, 1, 'one session, re-attached');
    await touchThrough(again, t);
  });

  test('a wrong password gets no desktop: xrdp keeps the client connected on its own log window', async (t) => {
    const xrdpBefore = lab.log('xrdp').length;
    const sesmanBefore = lab.log('sesman').length;
    const client = await startRdpClient({ port: lab.port, user: lab.user, password: `${lab.password}-wrong` });
    t.after(() => client.stop());
    await assert.rejects(client.waitForDesktop(8_000), /no desktop/);
    await until('xrdp to log the failed login', () => lab.log('xrdp').slice(xrdpBefore).includes(`login failed for user ${lab.user}`));
    assert.equal(client.proc.exitCode, null, 'xrdp did not drop the connection');
    const frame = await client.frame();
    assert.ok(showsDesktop(frame, { colour: null }), 'something is painted (xrdp\'s window)...');
    assert.ok(!showsDesktop(frame), '...but not the desktop');
    const sesman = lab.log('sesman').slice(sesmanBefore);
    assert.match(sesman, /AUTHFAIL: user=wrdplab/, 'sesman refused the password (PAM)');
    assert.doesNotMatch(sesman, /created session|Starting session/, 'no session was started');
  });

  test('two labs run side by side on their own displays, and stop() leaves nothing behind', async (t) => {
    const other = await startXrdp({ user: 'wrdplab2', policy: 'UBC' });
    t.after(() => other.stop());
    assert.notEqual(other.port, lab.port);
    assert.notEqual(other.sesmanPort, lab.sesmanPort);
    const [a, first] = await Promise.all([startRdpClient({ port: lab.port, user: lab.user, password: lab.password }), startRdpClient({ port: other.port, user: other.user, password: other.password })]);
    let b = first;
    t.after(() => a.stop());
    t.after(() => b.stop());
    await Promise.all([a.waitForDesktop(30_000), b.waitForDesktop(30_000)]);
    for (const l of [lab, other]) {
      const displays = xvncDisplays(l);
      assert.ok(displays.length >= 1 && displays.every((d) => d >= l.displays[0] && d <= l.displays[1]), `${l.user}'s sessions in its own block (${displays})`);
    }
    const file = await touchThrough(b, t);
    assert.equal(statSync(file).uid, Number(execFileSync('id', ['-u', 'wrdplab2'], { encoding: 'utf8' })));

    // endSessions() ends the session under the connected client, and a new connection gets a new one.
    const [ended] = xvncDisplays(other);
    await other.endSessions();
    assert.deepEqual(xvncDisplays(other), []);
    assert.ok(!existsSync(`/tmp/.X${ended}-lock`), `display :${ended} released`);
    await b.stop();
    b = await startRdpClient({ port: other.port, user: other.user, password: other.password });
    await b.waitForDesktop(30_000);
    assert.equal(xvncDisplays(other).length, 1);

    const pids = other.processes().map((p) => p.pid);
    const displays = xvncDisplays(other);
    await b.stop();
    await other.stop();
    assert.deepEqual(processTree(pids), [], 'no process of the stopped lab is left');
    assert.ok(!existsSync(other.dir), 'its directory is gone');
    for (const d of displays) {
      assert.ok(!existsSync(`/tmp/.X${d}-lock`) && !existsSync(`/tmp/.X11-unix/X${d}`), `display :${d} released`);
      assert.ok(!existsSync(`/run/xrdp/sockdir/xrdp_display_${d}`), `xrdp's socket for :${d} removed`);
    }
    assert.ok(!existsSync(`/tmp/.warden-rdp-lab-displays-${other.displays[0]}`), 'its display block is free again');
    // The first lab is untouched.
    await touchThrough(a, t);
  });

  test('renewCertificate(): the same port serves a new certificate, and the desktop still shows', async (t) => {
    const first = await servedCertificate(lab.port);
    assert.equal(new X509Certificate(lab.certificatePem).fingerprint256, first.fingerprint256, 'certificatePem is what xrdp serves');
    await lab.renewCertificate();
    const second = await servedCertificate(lab.port);
    assert.notEqual(second.fingerprint256, first.fingerprint256);
    assert.equal(new X509Certificate(lab.certificatePem).fingerprint256, second.fingerprint256);
    const client = await startRdpClient({ port: lab.port, user: lab.user, password: lab.password });
    t.after(() => client.stop());
    await client.waitForDesktop(30_000);
  });

  test('the fallback terminal (zutty, where xterm is not installed) fills the screen and takes input', { skip: !which('zutty') && 'zutty is not installed' }, async (t) => {
    const z = await startXrdp({ user: 'wrdplab3', terminal: 'zutty' });
    t.after(() => z.stop());
    const client = await startRdpClient({ port: z.port, user: z.user, password: z.password });
    t.after(() => client.stop());
    await client.waitForDesktop(30_000);
    assert.ok(z.processes().some((p) => p.comm === 'zutty'));
    await touchThrough(client, t);
  });

  test('without a mount namespace, the lab takes the system sesman port under a machine-wide lock', async (t) => {
    const locked = await startXrdp({ user: 'wrdplab', isolation: 'lock' });
    t.after(() => locked.stop());
    const port = Number(/^\s*ListenPort\s*=\s*(\d+)/m.exec(readFileSync('/etc/xrdp/sesman.ini', 'utf8'))?.[1] ?? 3350);
    assert.equal(locked.sesmanPort, port);
    const client = await startRdpClient({ port: locked.port, user: locked.user, password: locked.password });
    t.after(() => client.stop());
    await client.waitForDesktop(30_000);
    await touchThrough(client, t);
  });
});
