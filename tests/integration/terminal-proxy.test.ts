// The terminal proxy end to end: the daemon as a process, a real sshd target with a local account, real
// OpenSSH clients (ssh, scp, sftp through sshpass) — and an ssh2 client where OpenSSH cannot be steered
// (window changes, absurd PTY sizes, a thousand channels on one connection, a 10 KB user name).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readFileSync, writeFileSync, rmSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Appliance } from '../../appliance/index.js';
import { strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import type { Sshd } from '../helpers/sshd.js';
import { runClient, startTerminalProxy, type ClientRun, type RunningProxy } from '../helpers/terminal-proxy.js';

const admin = { username: 'admin', ip: '127.0.0.1', profile: 'administrator' };
const TARGET_USER = 'wtarget';

describe('terminal proxy (ssh2 daemon, OpenSSH clients, real sshd target)', { timeout: 300_000 }, () => {
  let lab: ProxyLab;
  let home: InitializedHome;
  let sshd: Sshd;
  let proxy: RunningProxy;
  let a: Appliance;
  const targetPassword = `T4rget-${randomBytes(12).toString('hex')}`;
  const pw: Record<string, string> = {};
  const dev: Record<string, number> = {};
  /** Everything any client received, to look for the injected password in. */
  const received: string[] = [];

  /** ssh through the proxy as `user` (the login name), options before the host, then the command if any. */
  const ssh = async (user: string, args: string[], opts: Parameters<typeof runClient>[3] = {}): Promise<ClientRun> => {
    const options = args.filter((x) => x.startsWith('-'));
    const command = args.filter((x) => !x.startsWith('-') && !/^127\.0\.0\.1:\d+$/.test(x));
    const forward = args.filter((x) => /^127\.0\.0\.1:\d+$/.test(x));
    const r = await runClient('ssh', ['-p', String(proxy.port), '-l', user, ...options, ...forward, '127.0.0.1', ...command], pw[user.split(':')[0]!.split('@')[0]!]!, opts);
    received.push(r.stdout.toString('latin1'), r.stderr);
    return r;
  };

  before(async () => {
    const hosts = ['db01', 'db02', 'moved', 'needsreason'];
    lab = await proxyLab({
      targetUser: TARGET_USER,
      targetPassword,
      targetKey: true,
      // Short login grace and a small unauthenticated limit, so the test can watch both act.
      config: (config) => {
        config.terminalProxy = { ...config.terminalProxy, loginGraceSeconds: 3, maxUnauthenticated: 20 };
      },
      settings: { timeZone: 'UTC' },
      users: { alice: {}, bob: {} },
      hosts,
      startProxy: false,
    });
    ({ home, sshd, a } = lab);
    for (const [name, u] of Object.entries(lab.users)) pw[name] = u.password;
    const alice = lab.users.alice!.id;
    const ssh = `SSH:${sshd.port}`;
    for (const h of hosts) dev[h] = lab.hosts[h]!.deviceId;
    const [c1, c2, c3, c4] = hosts.map((h) => lab.hosts[h]!.credentialId);
    // db02 has two credentials: "alice@db02" must name one.
    const c5 = (await a.credentials.createCredential({ username: 'admin', ip: '127.0.0.1' }, { deviceId: dev.db02!, username: 'nobody', secret: 'Not-Used-Here-1' })).id;
    // A device whose credential is a private key rather than a password.
    dev.keyhost = (await a.devices.createDevice({ username: 'admin', ip: '127.0.0.1' }, { hostname: 'keyhost', address: '127.0.0.1', connectivity: ssh })).id;
    const keyCred = (await a.credentials.createCredential({ username: 'admin', ip: '127.0.0.1' }, { deviceId: dev.keyhost, username: TARGET_USER, secretKind: 'ssh-key', secret: readFileSync(lab.targetKeyFile, 'utf8') })).id;
    await a.accessGroups.saveGroup({ username: 'admin', ip: '127.0.0.1' }, { name: 'keys', userIds: [alice], deviceIds: [dev.keyhost], credentialIds: [keyCred] });
    await a.accessGroups.saveGroup({ username: 'admin', ip: '127.0.0.1' }, { name: 'ops', userIds: [alice], deviceIds: [dev.db01, dev.db02, dev.moved], credentialIds: [c1, c2, c3, c5] });
    await a.accessGroups.saveGroup({ username: 'admin', ip: '127.0.0.1' }, { name: 'careful', userIds: [alice], deviceIds: [dev.needsreason], credentialIds: [c4], reasonRequired: true });
    // "moved" was pinned with another key: the target now presents a different one.
    assert.equal(await a.hostKeys.checkHostKey(dev.moved!, 'ssh', 'SHA256:AnEarlierKeyOfThisDevice0000000000000000000'), 'pinned');
    proxy = await lab.startProxy();
  });

  after(() => lab?.stop());

  /** The newest session row of this user (by its start event). */
  async function lastSession(): Promise<string> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return JSON.parse(ev!.detail).session as string;
  }

  async function sessionRow(id: string) {
    for (let i = 0; i < 50; i++) {
      const row = (await a.store.repos.proxySessions.byId(id))!;
      if (row.status === 'closed') return row;
      await new Promise((r) => setTimeout(r, 100));
    }
    return (await a.store.repos.proxySessions.byId(id))!;
  }

  test('exec through the direct syntax: stdout, stderr and the exit status; the row closes with bytes and status', async () => {
    const r = await ssh('alice:wtarget@db01', ['echo hello-from-target; echo on-stderr >&2; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout.toString(), 'hello-from-target\n');
    assert.match(r.stderr, /on-stderr/);
    const row = await sessionRow(await lastSession());
    assert.equal(row.status, 'closed');
    assert.equal(row.exit_status, 3);
    assert.equal(row.credential_username, TARGET_USER);
    assert.ok(Number(row.bytes_out) >= 'hello-from-target\non-stderr\n'.length, `bytes out ${row.bytes_out}`);
  });

  test('"alice@db01" reaches the one credential of db01; "alice@db02" with two is told to name one', async () => {
    const r = await ssh('alice@db01', ['id -un']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), TARGET_USER);
    const two = await ssh('alice@db02', ['id -un']);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /several credentials .*name one/);
  });

  test('ssh -n (stdin at EOF before the channel is accepted) runs and exits', async () => {
    const r = await ssh('alice:wtarget@db01', ['-n', 'echo with-n']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'with-n\n');
  });

  test('stdin reaches the target and EOF both ways', async () => {
    const r = await ssh('alice:wtarget@db01', ['wc -c'], { input: Buffer.alloc(100_000, 0x61) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), '100000');
  });

  test('the menu: filter by typing, pick by number, then a shell on the target', async () => {
    let step = 0;
    const r = await ssh('alice', ['-tt'], {
      onOutput: (all, write, end) => {
        if (step === 0 && /a number to pick/.test(all)) {
          step = 1;
          write('db01\r');
        } else if (step === 1 && /matching "db01"[\s\S]*a number to pick/.test(all)) {
          step = 2;
          assert.match(all, /1\s+wtarget@db01\s+127\.0\.0\.1\s+allowed/);
          assert.doesNotMatch(all.slice(all.indexOf('matching "db01"')), /db02/);
          write('1\r');
        } else if (step === 2 && /\$ $/.test(all)) {
          step = 3;
          write('echo MENU-$((6*7)); exit 5\r');
          end();
        }
      },
    });
    assert.equal(step, 3, r.stdout.toString());
    assert.match(r.stdout.toString(), /MENU-42/);
    assert.equal(r.code, 5);
  });

  test('the menu lists every state and asks a reason where one is required', async () => {
    let step = 0;
    const r = await ssh('alice', ['-tt'], {
      onOutput: (all, write, end) => {
        if (step === 0 && /a number to pick/.test(all)) {
          step = 1;
          const line = all.split('\r\n').find((l) => /wtarget@needsreason/.test(l))!;
          assert.match(line, /reason required/);
          write(`${/^\s*(\d+)/.exec(line)![1]}\r`);
        } else if (step === 1 && /A reason is required/.test(all)) {
          step = 2;
          write('ticket 42\r');
        } else if (step === 2 && /\$ $/.test(all)) {
          step = 3;
          write('exit\r');
          end();
        }
      },
    });
    assert.equal(step, 3, r.stdout.toString());
    const row = (await a.store.repos.proxySessions.byId(await lastSession()))!;
    assert.equal(row.reason, 'ticket 42');
  });

  test('a changed target host key refuses the session and raises the high-severity event', async () => {
    const r = await ssh('alice:wtarget@moved', ['echo must-not-run']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.toString(), '');
    assert.match(r.stderr, /host key has changed/);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'device.host_key_mismatch', limit: 1 });
    assert.ok(ev, 'a host key mismatch event');
    assert.equal(ev!.subject, `device:${dev.moved}`);
  });

  test('a user with no access, an unknown device and a wrong password are refused', async () => {
    const bob = await ssh('bob:wtarget@db01', ['echo no']);
    assert.equal(bob.code, 1);
    assert.match(bob.stderr, /not available to you/);
    const nowhere = await ssh('alice:wtarget@nosuchhost', ['echo no']);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /not available to you/);
    const wrong = await runClient('ssh', ['-p', String(proxy.port), '-l', 'alice:wtarget@db01', '127.0.0.1', 'echo no'], 'Wrong-Passw0rd-1');
    assert.equal(wrong.code, 255);
    assert.match(wrong.stderr, /Permission denied/);
  });

  test('port forwarding is refused and audited', async () => {
    const r = await ssh('alice:wtarget@db01', ['-W', `127.0.0.1:${sshd.port}`]);
    assert.notEqual(r.code, 0);
    let ev;
    for (let i = 0; i < 30 && !ev; i++, await new Promise((res) => setTimeout(res, 100))) [ev] = await a.store.repos.auditEvents.query({ type: 'session.channel_refused', limit: 1 });
    assert.ok(ev);
    assert.equal(JSON.parse(ev!.detail).kind, 'direct-tcpip');
  });

  test('scp and sftp through the proxied subsystem: upload and download', async () => {
    const dir = path.join(home.home, '..', `${path.basename(home.home)}-files`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const local = path.join(dir, 'up.bin');
    const content = randomBytes(300_000);
    writeFileSync(local, content);
    const remote = `/tmp/warden-proxy-test-${process.pid}.bin`;
    const opts = ['-P', String(proxy.port), '-o', 'User=alice:wtarget@db01'];
    const up = await runClient('scp', [...opts, local, `127.0.0.1:${remote}`], pw.alice!);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(readFileSync(remote), content);
    const back = path.join(dir, 'down.bin');
    const down = await runClient('scp', [...opts, `127.0.0.1:${remote}`, back], pw.alice!);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(readFileSync(back), content);
    const viaSftp = path.join(dir, 'sftp.bin');
    const s = await runClient('sftp', ['-P', String(proxy.port), '-o', 'User=alice:wtarget@db01', '127.0.0.1'], pw.alice!, { input: `get ${remote} ${viaSftp}\nrm ${remote}\nbye\n` });
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(readFileSync(viaSftp), content);
    assert.equal(existsSync(remote), false);
    rmSync(dir, { recursive: true, force: true });
  });

  /** An ssh2 client on the proxy. */
  function ssh2Client(username: string, password: string): Promise<ssh2.Client> {
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('ready', () => resolve(c)).on('error', reject);
      c.connect({ host: '127.0.0.1', port: proxy.port, username, password, readyTimeout: 20_000 });
    });
  }

  function shellUntil(ch: ssh2.ClientChannel, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${JSON.stringify(seen)}`)), timeoutMs);
      const on = (d: Buffer) => {
        seen += d.toString();
        if (pattern.test(seen)) {
          clearTimeout(timer);
          ch.off('data', on);
          resolve(seen);
        }
      };
      ch.on('data', on);
    });
  }

  test('PTY: the terminal size reaches the target, window changes follow, absurd sizes are clamped', async () => {
    const c = await ssh2Client('alice:wtarget@db01', pw.alice!);
    try {
      const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.shell({ term: 'xterm-256color', rows: 33, cols: 101 }, (e, s) => (e ? reject(e) : resolve(s))));
      await shellUntil(ch, /\$ $/);
      ch.write('stty size; echo T=$TERM\n');
      assert.match(await shellUntil(ch, /T=xterm-256color/), /33 101/);
      ch.setWindow(50, 132, 0, 0);
      await new Promise((r) => setTimeout(r, 200));
      ch.write('stty size\n');
      assert.match(await shellUntil(ch, /\n50 132/), /50 132/);
      ch.setWindow(4_000_000, 4_000_000, 0, 0);
      await new Promise((r) => setTimeout(r, 200));
      ch.write('stty size\n');
      assert.match(await shellUntil(ch, /\n1000 1000/), /1000 1000/);
      ch.end('exit\n');
    } finally {
      c.end();
    }
  });

  test('an administrator ending the session cuts the client within a second', async () => {
    const earlier = await lastSession();
    const run = ssh('alice:wtarget@db01', ['echo started; sleep 60']);
    const deadline = Date.now() + 15_000;
    let id: string | undefined;
    while (Date.now() < deadline) {
      const candidate = await lastSession();
      const row = await a.store.repos.proxySessions.byId(candidate);
      if (candidate !== earlier && row?.status === 'open') {
        id = candidate;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id, 'the session opened');
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await a.sessions.requestEnd(admin, id!);
    const r = await run;
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1000, `cut after ${elapsed} ms`);
    assert.match(r.stderr, /session was ended/);
    const row = await sessionRow(id!);
    assert.equal(row.status, 'closed');
    assert.match(row.end_reason!, /^ended/);
  });

  test('live control: the live list shows a proxied session with its bytes so far; a proxy killed with SIGKILL leaves it to the sweep, interrupted', async () => {
    // A proxy of its own: this one is killed.
    const doomed = await startTerminalProxy(home);
    const run = runClient('ssh', ['-p', String(doomed.port), '-l', 'alice:wtarget@db01', '127.0.0.1', 'head -c 300000 /dev/zero; sleep 60'], pw.alice!, { timeoutMs: 60_000 });
    try {
      let seen: Awaited<ReturnType<typeof a.sessions.liveSessions>>[number] | undefined;
      for (let i = 0; i < 100 && !seen; i++) {
        seen = (await a.sessions.liveSessions(admin)).find((v) => v.device === 'db01' && v.bytesOut >= 300_000);
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seen, 'listed with the bytes the target sent so far (written by the proxy every 2 s)');
      assert.deepEqual([seen.user, seen.credential, seen.protocol, seen.source, seen.responsive], ['alice', TARGET_USER, 'ssh', '127.0.0.1', true]);
      doomed.proc.kill('SIGKILL');
      await run;
      // The proxy's lease (15 s) lapses: the list flags the session, the sweep marks it interrupted.
      let flagged = false;
      for (let i = 0; i < 250 && !flagged; i++) {
        flagged = (await a.sessions.liveSessions(admin)).some((v) => v.id === seen!.id && !v.responsive);
        if (!flagged) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(flagged, 'flagged unresponsive once the lease lapsed');
      assert.equal(await a.sessions.sweepInterrupted(), 1);
      const row = (await a.store.repos.proxySessions.byId(seen.id))!;
      assert.deepEqual([row.status, row.end_reason], ['interrupted', 'process-gone']);
      assert.ok(Number(row.bytes_out) >= 300_000);
    } finally {
      run.proc.kill();
      await doomed.stop();
    }
  });

  test('1,000 channel opens on one connection and a 10 KB user name leave the daemon serving others', async () => {
    const c = await ssh2Client('alice:wtarget@db01', pw.alice!);
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, () => new Promise<boolean>((resolve) => c.exec('sleep 1', (e, ch) => (e ? resolve(false) : (ch.on('close', () => resolve(true)), ch.resume(), void 0))))),
    );
    c.end();
    const opened = outcomes.filter(Boolean).length;
    assert.ok(opened <= 10, `at most 10 session channels at once (opened ${opened})`);
    const long = await new Promise<string>((resolve) => {
      const x = new ssh2.Client();
      x.on('error', (e) => resolve(e.message)).on('ready', () => resolve('accepted?!'));
      x.connect({ host: '127.0.0.1', port: proxy.port, username: 'u'.repeat(10 * 1024), password: 'whatever', readyTimeout: 10_000 });
    });
    assert.notEqual(long, 'accepted?!');
    const r = await ssh('alice:wtarget@db01', ['echo still-serving']);
    assert.equal(r.stdout.toString(), 'still-serving\n');
    assert.equal(proxy.proc.exitCode, null);
  });

  test('X11 and agent forwarding are refused and audited', async () => {
    const c = await ssh2Client('alice:wtarget@db01', pw.alice!);
    try {
      const x11 = await new Promise<string>((resolve) => c.exec('true', { x11: true }, (e, ch) => (e ? resolve(e.message) : (ch.resume(), resolve('accepted')))));
      assert.match(x11, /X11/);
    } finally {
      c.end();
    }
    // Agent forwarding needs an agent on the client's side: a real ssh-agent on a private socket.
    const sock = path.join(home.home, '..', `${path.basename(home.home)}-agent.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const withAgent = await new Promise<ssh2.Client>((resolve, reject) => {
        const x = new ssh2.Client();
        x.on('ready', () => resolve(x)).on('error', reject);
        x.connect({ host: '127.0.0.1', port: proxy.port, username: 'alice:wtarget@db01', password: pw.alice!, agent: sock, agentForward: true });
      });
      await new Promise<void>((resolve) =>
        withAgent.exec('true', (e, ch) => {
          if (e) return resolve();
          ch.on('close', () => resolve()).resume();
        }),
      );
      withAgent.end();
    } finally {
      agent.kill();
    }
    const kinds = new Set<string>();
    for (let i = 0; i < 30 && !(kinds.has('x11') && kinds.has('agent-forwarding')); i++) {
      for (const ev of await a.store.repos.auditEvents.query({ type: 'session.channel_refused', limit: 20 })) kinds.add(JSON.parse(ev.detail).kind);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(kinds.has('x11'), [...kinds].join());
    assert.ok(kinds.has('agent-forwarding'), [...kinds].join());
  });

  test('garbage and mutated client streams (600 connections) leave the daemon serving others', async () => {
    // A real client's opening (identification, then its key exchange offer), captured once, to mutate.
    const opening = await new Promise<Buffer>((resolve) => {
      const server = net.createServer((sock) => {
        let got = Buffer.alloc(0);
        sock.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length > 600) {
            sock.destroy();
            server.close();
            resolve(got);
          }
        });
        sock.write('SSH-2.0-OpenSSH_9.2\r\n');
      });
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as net.AddressInfo).port;
        const c = new ssh2.Client();
        c.on('error', () => {});
        c.connect({ host: '127.0.0.1', port, username: 'x', password: 'x', readyTimeout: 5000 });
      });
    });
    let seed = 20261123;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const cases: Buffer[] = [];
    for (let i = 0; i < 600; i++) {
      const kind = i % 3;
      if (kind === 0) cases.push(randomBytes(1 + Math.floor(rand() * 4096)));
      else if (kind === 1) cases.push(Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), randomBytes(Math.floor(rand() * 2048))]));
      else {
        const m = Buffer.from(opening);
        for (let f = 0; f < 1 + Math.floor(rand() * 8); f++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
        cases.push(m.subarray(0, 1 + Math.floor(rand() * m.length)));
      }
    }
    for (let i = 0; i < cases.length; i += 15) {
      await Promise.all(
        cases.slice(i, i + 15).map(
          (bytes) =>
            new Promise<void>((resolve) => {
              const s = net.connect(proxy.port, '127.0.0.1', () => s.end(bytes));
              s.on('error', () => resolve());
              s.on('close', () => resolve());
              s.resume();
              setTimeout(() => s.destroy(), 1500).unref();
            }),
        ),
      );
    }
    assert.equal(proxy.proc.exitCode, null);
    const r = await ssh('alice:wtarget@db01', ['echo after-fuzz']);
    assert.equal(r.stdout.toString(), 'after-fuzz\n');
  });

  test('a vaulted private key is injected as well as a password', async () => {
    const r = await ssh('alice:wtarget@keyhost', ['echo via-key; id -un']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), `via-key\n${TARGET_USER}\n`);
  });

  test('an exit signal reaches the client as a signal', async () => {
    const c = await ssh2Client('alice:wtarget@db01', pw.alice!);
    try {
      const exit = await new Promise<unknown[]>((resolve, reject) =>
        c.exec('kill -TERM $$', (e, ch) => {
          if (e) return reject(e);
          ch.on('exit', (...args: unknown[]) => resolve(args)).resume();
        }),
      );
      // ssh2 names it with its SIG prefix; on the wire it is "TERM".
      assert.deepEqual(exit.slice(0, 2), [null, 'SIGTERM']);
    } finally {
      c.end();
    }
  });

  test('the target dropping the connection ends the client and closes the row', async () => {
    const earlier = await lastSession();
    const r = await ssh('alice:wtarget@db01', ['echo before-drop; sleep 1; kill -9 $PPID; sleep 20'], { timeoutMs: 15_000 });
    assert.match(r.stdout.toString(), /before-drop/);
    assert.notEqual(r.code, 0);
    const id = await lastSession();
    assert.notEqual(id, earlier);
    const row = await sessionRow(id);
    assert.equal(row.status, 'closed');
    assert.equal(row.end_reason, 'target-disconnected');
  });

  test('a client that stops reading holds the target back, not the proxy memory', async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proxy.proc.pid}/status`, 'utf8'))![1]) * 1024;
    const c = await ssh2Client('alice:wtarget@db01', pw.alice!);
    try {
      const total = 100_000_000;
      const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => c.exec(`head -c ${total} /dev/zero`, (e, s) => (e ? reject(e) : resolve(s))));
      ch.pause();
      const before = rss();
      await new Promise((r) => setTimeout(r, 3000));
      const grown = rss() - before;
      assert.ok(grown < 48 * 1024 * 1024, `the proxy grew by ${(grown / 1048576).toFixed(1)} MiB while the client did not read`);
      let got = 0;
      ch.on('data', (d: Buffer) => (got += d.length));
      await new Promise<void>((resolve) => {
        ch.on('close', () => resolve());
        ch.resume();
      });
      assert.equal(got, total);
    } finally {
      c.end();
    }
  });

  test('unauthenticated connections: beyond the limit dropped at once, the rest after the login grace time', async () => {
    const closedAt: number[] = [];
    const t0 = Date.now();
    const sockets = Array.from({ length: 30 }, () => {
      const s = net.connect(proxy.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedAt.push(Date.now() - t0));
      s.resume();
      return s;
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(closedAt.length, 10, `${closedAt.length} of 30 dropped at once (20 may wait)`);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(closedAt.length, 30, 'every idle connection was dropped after the grace time');
    for (const s of sockets) s.destroy();
    // Their places are free again.
    const r = await ssh('alice:wtarget@db01', ['echo served-after']);
    assert.equal(r.stdout.toString(), 'served-after\n');
  });

  test('a right password on an account that must first change it is refused with the generic failure, audited', async () => {
    const first = strongPassword();
    await a.users.create({ username: 'admin', ip: '127.0.0.1' }, { username: 'carol', fullName: 'carol', email: 'carol@example.test', profile: 'privileged-access-user', password: first });
    const r = await runClient('ssh', ['-p', String(proxy.port), '-l', 'carol', '127.0.0.1', 'true'], first);
    received.push(r.stdout.toString('latin1'), r.stderr);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied/);
    const [ev] = await a.store.repos.auditEvents.query({ type: 'auth.login', subject: 'carol', limit: 1 });
    assert.ok(ev);
    assert.deepEqual([ev!.outcome, ev!.code, JSON.parse(ev!.detail).protocol], ['failure', 'AUTH_PASSWORD_CHANGE_REQUIRED', 'ssh']);
  });

  test('the injected password never reaches a client', () => {
    assert.ok(received.length > 10);
    for (const text of received) assert.ok(!text.includes(targetPassword), 'the target password was seen by a client');
    // Nor the daemon's log.
    assert.ok(!proxy.output().includes(targetPassword), 'the target password is in the proxy log');
    assert.ok(!proxy.output().includes(pw.alice!), "a user's password is in the proxy log");
  });

  test('SIGTERM drains: open sessions end as proxy-stopped before the daemon exits', async () => {
    const earlier = await lastSession();
    const run = ssh('alice:wtarget@db01', ['sleep 60'], { timeoutMs: 20_000 });
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const candidate = await lastSession();
      if (candidate !== earlier && (await a.store.repos.proxySessions.byId(candidate))?.status === 'open') id = candidate;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id);
    assert.equal(await proxy.stop(), 0, proxy.output());
    await run;
    const row = (await a.store.repos.proxySessions.byId(id!))!;
    assert.deepEqual([row.status, row.end_reason], ['closed', 'proxy-stopped']);
  });

  test("the proxy's host key is created 0600 under the state directory and kept across restarts", async () => {
    const file = path.join(home.home, 'ssh', 'terminal-proxy_ed25519_key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const before = readFileSync(file);
    proxy = await lab.startProxy();
    assert.deepEqual(readFileSync(file), before);
    const parsed = ssh2.utils.parseKey(before);
    const expected = (Array.isArray(parsed) ? parsed[0]! : (parsed as ssh2.ParsedKey)).getPublicSSH();
    const presented = await new Promise<Buffer>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('error', () => {});
      c.connect({
        host: '127.0.0.1',
        port: proxy.port,
        username: 'alice',
        password: 'irrelevant',
        hostVerifier: (key: Buffer) => {
          resolve(key);
          c.end();
          return false;
        },
      });
      setTimeout(() => reject(new Error('no host key seen')), 10_000).unref();
    });
    assert.deepEqual(presented, expected);
  });
});
