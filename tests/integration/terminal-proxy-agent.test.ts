// Agent forwarding through the terminal proxy, end to end: the daemon as a process, a real sshd target, a real
// ssh-agent holding a fresh key, and OpenSSH `ssh -A` forwarding it. The access group's
// allowAgentForwarding decides: on, `ssh-add -L` on the target lists the client's key and every agent channel
// is audited; off (by default, or in one of two admitting groups), the target sees no agent and the refusal is
// audited.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Appliance } from '../../appliance/index.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { closedRecording, recordingEvents, runClient, type RunningProxy } from '../helpers/terminal-proxy.js';

// Its own target account: other test files use theirs, with other passwords, on the same machine.
const TARGET_USER = 'wagent';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminal proxy: agent forwarding allowed by the access group, audited either way', { timeout: 180_000 }, () => {
  let lab: ProxyLab;
  let proxy: RunningProxy;
  let a: Appliance;
  let agent: ChildProcess;
  let agentSock = '';
  let publicKey = '';
  let password = '';

  before(async () => {
    lab = await proxyLab({ targetUser: TARGET_USER, settings: { timeZone: 'UTC' }, users: { alice: {} }, startProxy: false });
    a = lab.a;
    password = lab.users.alice!.password;
    // A target that refuses agent forwarding: the session must still work, without an agent.
    const strictSshd = await lab.startSshd('strict-sshd', ['AllowAgentForwarding no']);

    agentSock = path.join(lab.work, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    lab.onStop(() => agent.kill('SIGTERM'));
    for (let i = 0; i < 100 && !existsSync(agentSock); i++) await sleep(50);
    assert.ok(existsSync(agentSock), 'ssh-agent did not start');
    const keyFile = path.join(lab.work, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `warden-agent-test-${randomBytes(4).toString('hex')}`, '-f', keyFile]);
    execFileSync('ssh-add', ['-q', keyFile], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: 'ignore' });
    publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();

    for (const [hostname, port] of [['agon', lab.sshd.port], ['agoff', lab.sshd.port], ['agboth', lab.sshd.port], ['agstrict', strictSshd.port]] as const) await lab.addHost(hostname, port);
    const on = await lab.addGroup({ name: 'agent-users', users: ['alice'], hosts: ['agon', 'agboth', 'agstrict'], allowAgentForwarding: true });
    assert.equal(on.allowAgentForwarding, true);
    // The default is off; agboth is admitted by both groups, so the stricter one applies.
    assert.equal((await lab.addGroup({ name: 'plain', users: ['alice'], hosts: ['agoff', 'agboth'] })).allowAgentForwarding, false);
    proxy = await lab.startProxy();
  });

  after(() => lab?.stop());

  /** `ssh -A` through the proxy with the test's agent (`forward: false`: the agent is there, not forwarded). */
  const ssh = (host: string, args: string[], opts: { forward?: boolean; input?: string } = {}) =>
    runClient('ssh', ['-p', String(proxy.port), '-l', `alice:${TARGET_USER}@${host}`, opts.forward === false ? '-a' : '-A', '127.0.0.1', ...args], password, {
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      agentSocket: agentSock,
      timeoutMs: 30_000,
    });

  /** The key blob, what `ssh-add -L` prints whatever the comment. */
  const keyBlob = () => publicKey.split(' ')[1]!;

  async function lastSession(): Promise<string> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return JSON.parse(ev!.detail).session as string;
  }

  async function eventsOf(type: string, session: string) {
    const evs = await a.store.repos.auditEvents.query({ type, limit: 50 });
    return evs.filter((e) => JSON.parse(e.detail).session === session);
  }

  async function eventOf(type: string, session: string) {
    for (let i = 0; i < 50; i++) {
      const [ev] = await eventsOf(type, session);
      if (ev) return ev;
      await sleep(100);
    }
    return undefined;
  }

  /** The session's row once closed (its byte totals are written at the end). */
  async function closedSession(sessionId: string) {
    for (let i = 0; i < 100; i++) {
      const row = (await a.store.repos.proxySessions.byId(sessionId))!;
      if (row.status === 'closed') return row;
      await sleep(100);
    }
    assert.fail(`session ${sessionId} did not close`);
  }

  test("allowed: ssh-add -L on the target lists the client's key; each agent channel is audited", async () => {
    // Two agent conversations: two channels, two events.
    const r = await ssh('agon', ['ssh-add -L && ssh-add -l']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.ok(out.includes(keyBlob()), out);
    assert.match(out, /SHA256:\S+ warden-agent-test-/);
    const session = await lastSession();
    const evs = await eventsOf('session.agent_forward', session);
    assert.equal(evs.length, 2, JSON.stringify(evs));
    for (const ev of evs) {
      assert.equal(ev.outcome, 'success');
      assert.equal(ev.actor, 'alice');
    }
    assert.equal((await eventsOf('session.channel_refused', session)).length, 0);
    // Each agent channel is in the session's recording too, and its conversation counts as the session's traffic.
    const agentNotes = (await recordingEvents(a, (await closedRecording(a, session)).id)).filter((e) => e.type === 'event' && e.kind === 'agent');
    assert.equal(agentNotes.length, 2);
    const row = await closedSession(session);
    // The key listing came back from the agent: at least the key blob's bytes went client → target.
    assert.ok(Number(row.bytes_in) >= Buffer.from(keyBlob(), 'base64').length, JSON.stringify(row));
  });

  test('agent channels close with their conversation: 40 in a row in one session, beyond the 32 open at once', async () => {
    const r = await ssh('agon', ['for i in $(seq 40); do ssh-add -l >/dev/null || exit 7; done; echo done']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /done/);
    assert.equal((await eventsOf('session.agent_forward', await lastSession())).length, 40);
  });

  test('allowed, in an interactive shell with a terminal (ssh -tt): the key is listed there too', async () => {
    const r = await ssh('agon', ['-tt'], { input: 'ssh-add -L; exit\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.toString().includes(keyBlob()), r.stdout.toString());
    assert.ok(await eventOf('session.agent_forward', await lastSession()));
  });

  test('allowed but not asked for (no ssh -A): the target sees no agent, nothing is forwarded', async () => {
    const r = await ssh('agon', ['echo "sock=[$SSH_AUTH_SOCK]"; ssh-add -L'], { forward: false });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout.toString(), /sock=\[\]/);
    assert.ok(!r.stdout.toString().includes(keyBlob()));
    assert.equal((await eventsOf('session.agent_forward', await lastSession())).length, 0);
  });

  for (const host of ['agoff', 'agboth']) {
    test(`the group does not allow it (${host === 'agoff' ? 'default off' : 'one of the two admitting groups has it off'}): the target sees no agent, the refusal is audited`, async () => {
      const r = await ssh(host, ['echo "sock=[$SSH_AUTH_SOCK]"; ssh-add -L']);
      assert.notEqual(r.code, 0, 'ssh-add found an agent');
      const out = r.stdout.toString();
      assert.match(out, /sock=\[\]/);
      assert.ok(!out.includes(keyBlob()));
      assert.match(r.stderr, /Could not open a connection to your authentication agent|Error connecting to agent/);
      const session = await lastSession();
      const ev = await eventOf('session.channel_refused', session);
      assert.ok(ev, 'the refusal is audited');
      assert.equal(JSON.parse(ev.detail).kind, 'agent-forwarding');
      assert.equal(ev.actor, 'alice');
      assert.equal((await eventsOf('session.agent_forward', session)).length, 0);
    });
  }

  test('a target that refuses agent forwarding (AllowAgentForwarding no): the command still runs, without an agent', async () => {
    const r = await ssh('agstrict', ['echo "sock=[$SSH_AUTH_SOCK]"; echo ran']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /sock=\[\]\nran\n/);
    assert.equal((await eventsOf('session.agent_forward', await lastSession())).length, 0);
  });
});
