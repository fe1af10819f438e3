// The console's terminal end to end, below the browser: the web daemon as a process, a real sshd target with a
// local account, a WebSocket client speaking the terminal's protocol with the user's session cookie. It must be
// the terminal proxy's path, not a second one: the access decision (and its refusals, reason prompt included),
// the injected credential never shown, the recording, the command rules cancelling a blocked line on the
// target, an administrator's "end", and the web session's own end — each checked here against the store.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import WebSocket from 'ws';
import type { Appliance } from '../../appliance/index.js';
import { strongPassword } from '../helpers/fixtures.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { closedRecording, recordingEvents } from '../helpers/terminal-proxy.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';

const TARGET_USER = 'wwebterm';
const PATH = '/api/v1/my/sessions/ssh/terminal';

/** One terminal WebSocket: what arrived (output as text, control messages), and ways to wait for both. */
class TerminalClient {
  readonly messages: Record<string, any>[] = [];
  output = '';
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (binary) this.output += data.toString('utf8');
      else this.messages.push(JSON.parse(data.toString()));
      this.poke();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.poke();
    });
    ws.on('error', () => this.poke());
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async until<T>(what: string, check: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}; output so far:\n${this.output.slice(-2000)}\nmessages: ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  message(type: string): Promise<Record<string, any>> {
    return this.until(`a ${type} message`, () => this.messages.find((m) => m.type === type));
  }

  open(ids: { deviceId: number; credentialId: number }, extra: Record<string, unknown> = {}): void {
    this.ws.send(JSON.stringify({ type: 'open', ...ids, cols: 100, rows: 30, ...extra }));
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text, 'utf8'), { binary: true });
  }

  closed(): Promise<number> {
    return this.until('the WebSocket to close', () => this.closeCode ?? undefined);
  }
}

describe('web console terminal (WebSocket → SessionService → real sshd)', { timeout: 240_000 }, () => {
  let lab: ProxyLab;
  let a: Appliance;
  let d: RunningDaemon;
  const clients: Record<string, ApiClient> = {};
  let adminClient: ApiClient;
  const marker = `/tmp/warden-webterm-${process.pid}`;

  const connect = (client: ApiClient | null, headers: Record<string, string> = {}): Promise<TerminalClient> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${d.httpsPort}${PATH}`, {
        ca: d.ca,
        headers: { origin: `https://127.0.0.1:${d.httpsPort}`, ...(client ? { cookie: client.cookie } : {}), ...headers },
      });
      const t = new TerminalClient(ws);
      ws.once('open', () => resolve(t));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      config: (config) => {
        config.web = { ...config.web, terminalCheckSeconds: 1 };
      },
      settings: { timeZone: 'UTC' },
      users: { alice: {}, bob: {}, carol: {} },
      hosts: ['web01', 'careful01'],
      groups: [{ name: 'web-ops', users: ['alice', 'carol'], hosts: ['web01'], commandRules: [{ pattern: 'rm\\s+-rf', action: 'block' }] }],
      startProxy: false,
    });
    a = lab.a;
    const careful = lab.hosts.careful01!;
    await a.accessGroups.saveGroup({ username: 'admin', ip: '127.0.0.1' }, { name: 'careful', userIds: [lab.users.alice!.id], deviceIds: [careful.deviceId], credentialIds: [careful.credentialId], reasonRequired: true });
    d = await startWebDaemon(lab.home);
    lab.onStop(() => d.stop());
    for (const name of ['alice', 'bob', 'carol']) {
      clients[name] = new ApiClient(d);
      const r = await clients[name]!.login(name, lab.users[name]!.password);
      assert.equal(r.status, 200, r.body);
    }
    adminClient = new ApiClient(d);
    const adminPassword = strongPassword();
    await adminClient.loginAndChange('admin', lab.home.oneTimePassword, adminPassword);
    writeFileSync(marker, 'keep me');
    chmodSync(marker, 0o666);
  });

  after(async () => {
    rmSync(marker, { force: true });
    await lab?.stop();
  });

  test('a shell on the target: typed commands run, a blocked one is cancelled there, the exit ends the session, all of it recorded', async () => {
    const t = await connect(clients.alice!);
    t.open(lab.hosts.web01!);
    const opened = await t.message('opened');
    const sessionId = opened.sessionId as string;
    await t.until('the prompt', () => /\$ ?$/m.test(t.output));
    t.type('echo webterm-$((6*7))\r');
    await t.until('the command output', () => t.output.includes('webterm-42'));
    t.type(`rm -rf ${marker}\r`);
    await t.until('the block message', () => t.output.includes('warden: command blocked by'));
    t.type('exit 3\r');
    const ended = await t.message('ended');
    assert.equal(ended.reason, 'exited');
    assert.equal(ended.exitStatus, 3);
    assert.equal(await t.closed(), 1000);
    assert.ok(existsSync(marker), 'the blocked rm -rf never ran');

    const row = (await a.store.repos.proxySessions.byId(sessionId))!;
    assert.equal(row.username, 'alice');
    assert.equal(row.end_reason, 'exited');
    assert.equal(row.exit_status, 3);
    assert.ok(row.ended_at !== null);
    assert.ok(Number(row.bytes_in) > 0 && Number(row.bytes_out) > 0);
    const rec = await closedRecording(a, sessionId);
    const events = await recordingEvents(a, rec.id);
    const out = Buffer.concat(events.filter((e) => e.type === 'output').map((e) => (e as { data: Buffer }).data)).toString('utf8');
    assert.match(out, /webterm-42/);
    assert.ok(!out.includes(lab.targetPassword) && !t.output.includes(lab.targetPassword), 'the injected password is neither recorded nor shown');
    let commands = await a.store.repos.sessionCommands.commandsOf(sessionId);
    // The activity is stored in batches, off the data path: the last one lands as the session closes.
    for (let i = 0; i < 50 && commands.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      commands = await a.store.repos.sessionCommands.commandsOf(sessionId);
    }
    const byText = new Map(commands.map((c) => [c.command, c.action]));
    assert.equal(byText.get('echo webterm-$((6*7))'), 'allow');
    assert.equal(byText.get(`rm -rf ${marker}`), 'block');
    const [blocked] = await a.store.repos.auditEvents.query({ type: 'session.command_blocked', limit: 1 });
    assert.equal(blocked?.subject, `session:${sessionId}`);
  });

  test('refusals: not in a group reads "denied"; a group that needs a reason asks for one, and the reason opens it', async () => {
    const bob = await connect(clients.bob!);
    bob.open(lab.hosts.web01!);
    assert.equal((await bob.message('refused')).refusal, 'denied');
    bob.ws.close();

    const t = await connect(clients.alice!);
    t.open(lab.hosts.careful01!);
    assert.equal((await t.message('refused')).refusal, 'reason-required');
    t.open(lab.hosts.careful01!, { reason: 'ticket CHG-1234' });
    const { sessionId } = await t.message('opened');
    const row = (await a.store.repos.proxySessions.byId(sessionId))!;
    assert.equal(row.reason, 'ticket CHG-1234');
    t.ws.close();
    for (let i = 0; i < 50 && (await a.store.repos.proxySessions.byId(sessionId))!.ended_at === null; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await a.store.repos.proxySessions.byId(sessionId))!.end_reason, 'client-disconnected');
  });

  test('the upgrade needs the session cookie and our own origin', async () => {
    await assert.rejects(connect(null), (e: any) => e.status === 401);
    const foreign = await connect(clients.alice!, { origin: 'https://evil.example' }).catch((e) => e);
    // Upgraded, then closed before anything is opened: policy violation.
    if (foreign instanceof TerminalClient) assert.equal(await foreign.closed(), 1008);
    else assert.fail(`expected an upgrade closed for its origin, got ${foreign}`);
    const missing = await connect(clients.alice!, { origin: '' }).catch((e) => e);
    if (missing instanceof TerminalClient) assert.equal(await missing.closed(), 1008);
  });

  test('an administrator ends the session: the browser is told why and the row says so', async () => {
    const t = await connect(clients.alice!);
    t.open(lab.hosts.web01!);
    const { sessionId } = await t.message('opened');
    await t.until('the prompt', () => /\$ ?$/m.test(t.output));
    const r = await adminClient.call('POST', `/api/v1/sessions/${sessionId}/end`, { reason: 'maintenance' });
    assert.equal(r.status, 202, r.body);
    const ended = await t.message('ended');
    assert.match(ended.reason, /^ended: /);
    assert.match(t.output, /this session was ended/);
    assert.match((await a.store.repos.proxySessions.byId(sessionId))!.end_reason!, /^ended: /);
  });

  test('the web session is the terminal login: signing out ends the terminal', async () => {
    const t = await connect(clients.carol!);
    t.open(lab.hosts.web01!);
    const { sessionId } = await t.message('opened');
    await t.until('the prompt', () => /\$ ?$/m.test(t.output));
    const r = await clients.carol!.call('POST', '/api/v1/auth/logout');
    assert.equal(r.status, 204, r.body);
    const ended = await t.message('ended');
    assert.equal(ended.reason, 'web-session-ended');
    assert.equal((await a.store.repos.proxySessions.byId(sessionId))!.end_reason, 'web-session-ended');
  });

  test('garbage on the socket closes it without a session; the daemon serves the next one', async () => {
    const t = await connect(clients.alice!);
    t.ws.send('{"type":"open","deviceId":"1 OR 1=1"}');
    assert.equal(await t.closed(), 1003);
    const t2 = await connect(clients.alice!);
    t2.ws.send(Buffer.from([0xff, 0x00, 0x1b]), { binary: true });
    t2.open(lab.hosts.web01!, { cols: 1e9 });
    assert.equal(await t2.closed(), 1003, 'an absurd size is not understood');
  });

  // Last: it stops the daemon.
  test('the daemon stopping ends every terminal session first (recording closed, row says web-stopped)', async () => {
    const t = await connect(clients.alice!);
    t.open(lab.hosts.web01!);
    const { sessionId } = await t.message('opened');
    await t.until('the prompt', () => /\$ ?$/m.test(t.output));
    assert.equal(await d.stop(), 0);
    assert.equal((await t.message('ended')).reason, 'web-stopped');
    const row = (await a.store.repos.proxySessions.byId(sessionId))!;
    assert.equal(row.status, 'closed');
    assert.equal(row.end_reason, 'web-stopped');
    assert.equal((await closedRecording(a, sessionId)).status, 'complete');
  });
});
