// What `make run` starts: the supervisor initializes an empty state directory, starts the web daemon and the
// terminal proxy, prints where to connect and the first admin's one-time password, and Ctrl-C stops everything.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { tempDir } from '../helpers/fixtures.js';
import { ApiClient } from '../helpers/web-daemon.js';

const SUPERVISOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'daemons', 'supervisor', 'main.js');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('make run (the local supervisor)', () => {
  const tmp = tempDir('warden-run-');
  after(() => tmp.cleanup());

  test('first start prints the URL and a one-time password that works; Ctrl-C stops it all', async () => {
    const home = path.join(tmp.dir, 'var');
    const proc = spawn(process.execPath, [SUPERVISOR], {
      env: { ...process.env, WARDEN_HOME: home, WARDEN_CONFIG: '', WARDEN_RUN_HTTPS_PORT: '0', WARDEN_RUN_HTTP_PORT: '0', WARDEN_RUN_SSH_PORT: '0', WARDEN_RUN_RDP_PORT: '0', NOTIFY_SOCKET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!/Press Ctrl-C to stop/.test(out)) {
      assert.ok(Date.now() < deadline, `no banner:\n${out}`);
      assert.equal(proc.exitCode, null, `supervisor exited:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /web:\s+https:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
    const password = /one-time password:\s+(\S+)/.exec(out);
    assert.ok(url, out);
    assert.ok(password, out);
    assert.match(out, /first administrator: admin/);
    // The terminal proxy runs beside the web daemon, on loopback, and its port is in the banner.
    const sshLine = /ssh:\s+ssh -p (\d+) USER@127\.0\.0\.1/.exec(out);
    assert.ok(sshLine, out);
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(sshLine[1]), '127.0.0.1');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString());
      });
      s.on('error', reject);
    });
    assert.match(greeting, /^SSH-2\.0-Warden/);
    // So does the RDP proxy: it answers an X.224 Connection Request asking for TLS by choosing TLS.
    const rdpLine = /rdp:\s+xfreerdp \/v:127\.0\.0\.1:(\d+) /.exec(out);
    assert.ok(rdpLine, out);
    const confirm = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(Number(rdpLine[1]), '127.0.0.1', () => s.write(Buffer.from('03000013' + '0ee00000000000' + '0100080001000000', 'hex')));
      s.once('data', (d) => {
        s.destroy();
        resolve(d);
      });
      s.on('error', reject);
    });
    // TPKT, X.224 Connection Confirm (0xd0), RDP_NEG_RSP (type 2) selecting PROTOCOL_SSL (1).
    assert.equal(confirm.toString('hex'), '03000013' + '0ed00000123400' + '0200080001000000');

    const client = new ApiClient({ httpsPort: Number(url[1]), ca: readFileSync(path.join(home, 'tls', 'web.crt')) });
    const r = await client.login('admin', password[1]!);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.passwordChangeRequired, true);

    const webPid = Number(/"pid":(\d+)/.exec(out)?.[1]);
    assert.ok(webPid > 0 && webPid !== proc.pid, 'the web daemon runs as its own process');
    proc.kill('SIGINT');
    assert.equal(await exited, 0, out);
    assert.match(out, /"message":"stopped"/, 'the web daemon drained');
    assert.equal(isRunning(webPid), false);
  });
});
