// Port forwarding through the terminal proxy, end to end: the daemon as a process, a real sshd target, real
// OpenSSH clients (`ssh -N -L`, `ssh -W`) and a TCP echo server on loopback that only the target connects to.
// The access group's allowPortForwarding decides: on, bytes round-trip through the target, the forward is
// audited with its destination and noted in the recording; off (or off in one of two admitting groups), the
// channel is refused and audited.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Appliance } from '../../appliance/index.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { freePort } from '../helpers/sshd.js';
import { closedRecording, recordingEvents, runClient, type RunningProxy } from '../helpers/terminal-proxy.js';

// Its own target account: other test files use theirs, with other passwords, on the same machine.
const TARGET_USER = 'wfwd';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminal proxy: port forwarding allowed by the access group, audited either way', { timeout: 180_000 }, () => {
  let lab: ProxyLab;
  let proxy: RunningProxy;
  let a: Appliance;
  let echo: net.Server;
  let echoPort = 0;
  let password = '';

  before(async () => {
    lab = await proxyLab({ targetUser: TARGET_USER, settings: { timeZone: 'UTC' }, users: { alice: {} }, hosts: ['fwdon', 'fwdoff', 'fwdboth'], startProxy: false });
    a = lab.a;
    password = lab.users.alice!.password;
    echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    lab.onStop(() => new Promise((r) => echo.close(r)));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as net.AddressInfo).port;
    const on = await lab.addGroup({ name: 'forwarders', users: ['alice'], hosts: ['fwdon', 'fwdboth'], allowPortForwarding: true });
    assert.equal(on.allowPortForwarding, true);
    // The default is off; fwdboth is admitted by both groups, so the stricter one applies.
    assert.equal((await lab.addGroup({ name: 'plain', users: ['alice'], hosts: ['fwdoff', 'fwdboth'] })).allowPortForwarding, false);
    proxy = await lab.startProxy();
  });

  after(() => lab?.stop());

  const ssh = (login: string, args: string[], input?: Buffer) => runClient('ssh', ['-p', String(proxy.port), '-l', login, ...args, '127.0.0.1'], password, { ...(input ? { input } : {}), timeoutMs: 30_000 });

  async function lastSession(): Promise<string> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return JSON.parse(ev!.detail).session as string;
  }

  async function eventOf(type: string, session: string) {
    for (let i = 0; i < 50; i++) {
      const evs = await a.store.repos.auditEvents.query({ type, limit: 20 });
      const ev = evs.find((e) => JSON.parse(e.detail).session === session);
      if (ev) return ev;
      await sleep(100);
    }
    return undefined;
  }

  test('ssh -N -L with the group allowing it: bytes round-trip through the target, audited with the destination, noted in the recording', async () => {
    const local = await freePort();
    const client = runClient('ssh', ['-p', String(proxy.port), '-l', `alice:${TARGET_USER}@fwdon`, '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${local}:127.0.0.1:${echoPort}`, '127.0.0.1'], password, { timeoutMs: 60_000 });
    try {
      // More than a channel window (2 MiB) each way, so the bridge's backpressure is exercised.
      const payload = randomBytes(3 * 1024 * 1024);
      let back: Buffer | null = null;
      for (let i = 0; i < 100 && back === null; i++) {
        back = await new Promise<Buffer | null>((resolve) => {
          const s = net.connect(local, '127.0.0.1');
          const got: Buffer[] = [];
          s.on('connect', () => s.end(payload));
          s.on('data', (d) => got.push(d));
          s.on('end', () => resolve(Buffer.concat(got)));
          s.on('error', () => resolve(null));
        });
        if (back === null) await sleep(100);
      }
      assert.ok(back, 'the forwarded port never accepted');
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload), 'what came back is what was sent');
      const session = await lastSession();
      const ev = await eventOf('session.port_forward', session);
      assert.ok(ev, 'the forward is audited');
      assert.equal(ev.outcome, 'success');
      assert.equal(ev.actor, 'alice');
      assert.equal(JSON.parse(ev.detail).destination, `127.0.0.1:${echoPort}`);
      client.proc.kill('SIGTERM');
      await client;
      const forwards = (await recordingEvents(a, (await closedRecording(a, session)).id)).filter((e) => e.type === 'event' && e.kind === 'forward');
      assert.equal(forwards.length, 1);
      assert.equal((forwards[0] as { data: Record<string, unknown> }).data.destination, `127.0.0.1:${echoPort}`);
      // The forwarded bytes count as the session's traffic.
      for (let i = 0; i < 50; i++) {
        const row = (await a.store.repos.proxySessions.byId(session))!;
        if (row.status === 'closed') {
          assert.ok(Number(row.bytes_in) >= payload.length && Number(row.bytes_out) >= payload.length, JSON.stringify(row));
          break;
        }
        await sleep(100);
      }
    } finally {
      client.proc.kill('SIGKILL');
    }
  });

  test('ssh -W with the group allowing it: stdin reaches the destination and its answer comes back', async () => {
    const payload = randomBytes(100_000);
    const r = await ssh(`alice:${TARGET_USER}@fwdon`, ['-W', `127.0.0.1:${echoPort}`], payload);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(payload));
  });

  test('a forward the target cannot open is audited as a failure and refused', async () => {
    const closed = await freePort();
    const r = await ssh(`alice:${TARGET_USER}@fwdon`, ['-W', `127.0.0.1:${closed}`], Buffer.from('x'));
    assert.notEqual(r.code, 0);
    const ev = await eventOf('session.port_forward', await lastSession());
    assert.ok(ev);
    assert.equal(ev.outcome, 'failure');
    assert.equal(JSON.parse(ev.detail).destination, `127.0.0.1:${closed}`);
  });

  for (const host of ['fwdoff', 'fwdboth']) {
    test(`the group does not allow it (${host === 'fwdoff' ? 'default off' : 'one of the two admitting groups has it off'}): refused and audited, nothing reaches the destination`, async () => {
      let reached = 0;
      const count = () => reached++;
      echo.on('connection', count);
      try {
        const r = await ssh(`alice:${TARGET_USER}@${host}`, ['-W', `127.0.0.1:${echoPort}`], Buffer.from('hello'));
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout.length, 0);
        assert.match(r.stderr, /forwarding failed|open failed|prohibited/i);
        const session = await lastSession();
        const ev = await eventOf('session.channel_refused', session);
        assert.ok(ev, 'the refusal is audited');
        assert.equal(JSON.parse(ev.detail).kind, 'direct-tcpip');
        assert.equal(JSON.parse(ev.detail).target, `127.0.0.1:${echoPort}`);
        assert.equal(await eventOf('session.port_forward', session), undefined);
        assert.equal(reached, 0);
      } finally {
        echo.off('connection', count);
      }
    });
  }

  test('a forward before any target is chosen (menu login, no session channel) stays refused', async () => {
    const before = (await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 }))[0]?.seq;
    const r = await ssh('alice', ['-W', `127.0.0.1:${echoPort}`], Buffer.from('hello'));
    assert.notEqual(r.code, 0);
    let ev;
    for (let i = 0; i < 50 && !ev; i++, await sleep(100)) {
      ev = (await a.store.repos.auditEvents.query({ type: 'session.channel_refused', limit: 5 })).find((e) => JSON.parse(e.detail).session === null && JSON.parse(e.detail).kind === 'direct-tcpip');
    }
    assert.ok(ev);
    assert.equal((await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 }))[0]?.seq, before, 'no session was opened');
  });
});
