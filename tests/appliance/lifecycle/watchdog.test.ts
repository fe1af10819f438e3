// systemd's notify protocol as the daemons speak it: READY=1 with STATUS=, then WATCHDOG=1 every
// WATCHDOG_USEC/2 from the main event loop — so a loop that is blocked sends none and systemd restarts
// the daemon. The socket is a real unix datagram socket the test binds (Node cannot bind one: a small
// python3 listener prints each datagram as a JSON line), the sender the real sd-notify binding.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { watchdogIntervalMs } from '../../../appliance/lifecycle/index.js';
import { tempDir } from '../../helpers/fixtures.js';

const lifecycle = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'appliance', 'lifecycle', 'index.js');

const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"t": time.monotonic() * 1000, "msg": data.decode()}), flush=True)
`;

interface Datagram {
  t: number;
  msg: string;
}

/** Run `script` (an ES module body with `lc` = appliance/lifecycle) under NOTIFY_SOCKET; every datagram it sent. */
async function notifications(script: string, env: Record<string, string>): Promise<Datagram[]> {
  const tmp = tempDir('warden-notify-');
  const socketPath = path.join(tmp.dir, 'notify.sock');
  const listener = spawn('python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: Datagram[] = [];
  try {
    const lines = createInterface({ input: listener.stdout! });
    const bound = new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      lines.on('line', (line) => {
        const m = JSON.parse(line) as { bound?: boolean } & Datagram;
        if (m.bound) resolve();
        else got.push(m);
      });
    });
    await bound;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const lc = await import(${JSON.stringify(lifecycle)});\n${script}`], {
      env: { ...process.env, NOTIFY_SOCKET: socketPath, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    await new Promise((r) => setTimeout(r, 100)); // the last datagrams reach the listener
    return got;
  } finally {
    listener.kill();
    tmp.cleanup();
  }
}

describe('systemd notify and watchdog', () => {
  test('the watchdog interval is half of WATCHDOG_USEC, and none without it or for another pid', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }), 15000);
    assert.equal(watchdogIntervalMs({}), null);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }), null);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid + 1) }), null);
  });

  test('READY=1 with STATUS, then WATCHDOG=1 every WATCHDOG_USEC/2; a blocked event loop sends none', async () => {
    // 200 ms watchdog: a ping every 100 ms. The child serves 1 s, blocks its loop 1 s, serves 0.5 s more.
    const got = await notifications(
      `
      lc.notifyReady('serving test');
      const keepAlive = setTimeout(() => {}, 10000);
      await new Promise((r) => setTimeout(r, 1000));
      lc.notifyStatus('blocking');
      const until = Date.now() + 1000;
      while (Date.now() < until) {}
      lc.notifyStatus('unblocked');
      await new Promise((r) => setTimeout(r, 500));
      clearTimeout(keepAlive);
      `,
      { WATCHDOG_USEC: '200000' },
    );
    const msgs = got.map((d) => d.msg);
    assert.match(msgs[0]!, /^READY=1\nMAINPID=\d+\nSTATUS=serving test\n$/);
    const blockAt = msgs.indexOf('STATUS=blocking\n');
    const unblockAt = msgs.indexOf('STATUS=unblocked\n');
    assert.ok(blockAt > 0 && unblockAt > blockAt, msgs.join('|'));
    const pings = (from: number, to: number) => got.slice(from, to).filter((d) => d.msg === 'WATCHDOG=1\n');
    const before = pings(1, blockAt);
    // ~10 in 1 s at 100 ms; a loaded machine may delay a few timers, never halve them.
    assert.ok(before.length >= 6 && before.length <= 12, `${before.length} pings in the first second`);
    const gaps = before.slice(1).map((d, i) => d.t - before[i]!.t);
    assert.ok(Math.max(...gaps) < 200, `no gap as long as the watchdog interval (${gaps.map(Math.round).join(', ')} ms)`);
    // The 1 s block: none, although five were due.
    assert.equal(pings(blockAt, unblockAt).length, 0);
    assert.ok(got[unblockAt]!.t - got[blockAt]!.t >= 950);
    // And they resume with the loop.
    assert.ok(pings(unblockAt, got.length).length >= 3);
  });

  test('without WATCHDOG_USEC there is READY=1 and no WATCHDOG=1', async () => {
    const got = await notifications(`lc.notifyReady('serving'); await new Promise((r) => setTimeout(r, 400));`, {});
    assert.deepEqual(got.map((d) => d.msg.split('\n')[0]), ['READY=1']);
  });

  test('python3 is there to bind the test socket', () => {
    assert.equal(spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX']).status, 0);
  });
});
