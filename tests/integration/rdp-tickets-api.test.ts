// "Connect" over RDP from the web API of the real daemon: POST /api/v1/my/sessions/rdp answers an .rdp file
// (parsed here line by line) whose load-balance token carries a one-time ticket, or JSON for scripts; names and
// ids resolve among the user's own targets; refusals are the /my routes' answers; the ticket is bound to the
// web client's address and redeemed once by the RDP side (an appliance in this process, as the proxy would);
// under forced certificate a certificate web session (a real TLS client certificate) gets a ticket the session
// gate accepts, a password session none. A real RDP client (FreeRDP's xfreerdp under Xvfb) opens the file and
// sends the ticket in its X.224 Connection Request, asking for TLS only.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, httpsRequest, startWebDaemon, type HttpResponse, type RunningDaemon } from '../helpers/web-daemon.js';
import { createCa, issueLeaf, keyPem, type Issued } from '../helpers/pki.js';

const admin = { username: 'admin', ip: '127.0.0.1' };

/** An .rdp file's lines as key → "type:value"; CRLF line ends required. */
function parseRdp(body: string): Map<string, string> {
  assert.ok(body.endsWith('\r\n'), 'the file ends with CRLF');
  const lines = body.slice(0, -2).split('\r\n');
  assert.ok(lines.every((l) => !l.includes('\n') && !l.includes('\r')), 'CRLF line ends only');
  const map = new Map<string, string>();
  for (const line of lines) {
    const m = /^([a-z :]+?):([si]):(.*)$/.exec(line);
    assert.ok(m, `an .rdp line: ${line}`);
    assert.equal(map.has(m[1]!), false, `${m[1]} once`);
    map.set(m[1]!, `${m[2]}:${m[3]}`);
  }
  return map;
}

/**
 * Where the .rdp files point (config rdpProxy.publicAddress): a listener that keeps the first bytes of each
 * connection (an RDP client's X.224 Connection Request) and drops it.
 */
interface FirstBytes {
  port: number;
  next: () => Promise<Buffer>;
  close: () => Promise<void>;
}

async function firstBytesListener(): Promise<FirstBytes> {
  const waiting: ((b: Buffer) => void)[] = [];
  const seen: Buffer[] = [];
  const server = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      const w = waiting.shift();
      if (w) w(d);
      else seen.push(d);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => (seen.length > 0 ? Promise.resolve(seen.shift()!) : new Promise((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function ticketOf(file: Map<string, string>): string {
  const m = /^s:tsv:\/\/warden\/([A-Za-z0-9_-]{43})$/.exec(file.get('loadbalanceinfo') ?? '');
  assert.ok(m, `loadbalanceinfo carries a ticket: ${file.get('loadbalanceinfo')}`);
  return m[1]!;
}

describe('RDP connect over the web API', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let a: Appliance;
  let adminClient: ApiClient;
  const dev: Record<string, number> = {};
  const cred: Record<string, number> = {};
  let root: Issued;
  let rdpSide: FirstBytes;
  const tmp = tempDir('warden-rdpfile-');

  before(async () => {
    home = await initializedHome();
    rdpSide = await firstBytesListener();
    const config = JSON.parse(readFileSync(home.configFile, 'utf8'));
    writeFileSync(home.configFile, JSON.stringify({ ...config, rdpProxy: { publicAddress: `127.0.0.1:${rdpSide.port}` } }));
    // The RDP side of the test: redeems tickets and opens sessions as the proxy would, in another process.
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { feedPollMs: 100 });
    root = await createCa('RDP API Root');
    await a.trust.install(root.pem, admin);
    for (const [hostname, address, connectivity, creds] of [
      ['win01', '127.0.0.31', 'RDP:3389', ['Administrator', 'backup']],
      ['win02', '127.0.0.32', 'RDP:3389', ['svc_rdp']],
      ['linux01', '127.0.0.33', 'SSH:22', ['root']],
      ['win-other', '127.0.0.34', 'RDP:3389', ['Administrator']],
    ] as const) {
      dev[hostname] = (await a.devices.createDevice(admin, { hostname, address, connectivity })).id;
      for (const username of creds) cred[`${username}@${hostname}`] = (await a.credentials.createCredential(admin, { deviceId: dev[hostname]!, username, secret: `S3cret-${username}-${'q'.repeat(10)}` })).id;
    }
    d = await startWebDaemon(home);
    adminClient = new ApiClient(d);
    await adminClient.loginAndChange('admin', home.oneTimePassword, strongPassword());
  });
  after(async () => {
    await d?.stop();
    await a?.close();
    await rdpSide?.close();
    home?.cleanup();
    tmp.cleanup();
  });

  async function user(username: string, opts: { localAddress?: string; mfa?: 'certificate'; groupHosts?: string[] } = {}): Promise<{ id: number; client: ApiClient; otp: string }> {
    const r = await adminClient.call('POST', '/api/v1/users', { username, fullName: username, email: `${username}@example.test`, profile: 'privileged-access-user' });
    assert.equal(r.status, 201, r.body);
    const id = r.json.user.id as number;
    if (opts.mfa) assert.equal((await adminClient.call('POST', `/api/v1/users/${id}/mfa`, { method: opts.mfa })).status, 200);
    const hosts = opts.groupHosts ?? [];
    if (hosts.length > 0) {
      await a.accessGroups.saveGroup(admin, {
        name: `${username}-rdp`,
        userIds: [id],
        deviceIds: hosts.map((h) => dev[h]),
        credentialIds: Object.entries(cred).filter(([k]) => hosts.includes(k.split('@')[1]!)).map(([, v]) => v),
      });
    }
    const client = new ApiClient(d, opts.localAddress);
    if (!opts.mfa) await client.loginAndChange(username, r.json.oneTimePassword, strongPassword());
    return { id, client, otp: r.json.oneTimePassword };
  }

  const connect = (c: ApiClient, body: unknown, accept = 'application/x-rdp', query = '') => c.call('POST', `/api/v1/my/sessions/rdp${query}`, body, { accept });

  test('an .rdp file: the proxy address, the ticket as load-balance token, the user line, no credential prompt, no NLA', async () => {
    const ana = await user('ana', { groupHosts: ['win01', 'win02', 'linux01'] });
    const r = await connect(ana.client, { device: 'win02' });
    assert.equal(r.status, 200, r.body);
    assert.match(String(r.headers['content-type']), /^application\/x-rdp/);
    assert.equal(r.headers['content-disposition'], 'attachment; filename="win02.rdp"');
    assert.equal(r.headers['cache-control'], 'no-store');
    const file = parseRdp(r.body);
    // The daemon's config (rdpProxy.publicAddress; by default web.publicHost:3389, make run's 127.0.0.1:3389).
    assert.equal(file.get('full address'), `s:127.0.0.1:${rdpSide.port}`);
    assert.equal(file.get('username'), 's:ana@win02');
    assert.equal(file.get('prompt for credentials'), 'i:0');
    assert.equal(file.get('authentication level'), 'i:0');
    assert.equal(file.get('enablecredsspsupport'), 'i:0');
    const ticket = ticketOf(file);

    // The proxy redeems it once, from the address the web saw.
    const redeemed = await a.rdpTickets.redeem(ticket, '127.0.0.1');
    assert.ok(redeemed.redeemed, JSON.stringify(redeemed));
    assert.deepEqual([redeemed.ticket.username, redeemed.ticket.deviceId, redeemed.ticket.credentialId, redeemed.ticket.authentication.method], ['ana', dev.win02, cred['svc_rdp@win02'], 'password']);
    assert.deepEqual(await a.rdpTickets.redeem(ticket, '127.0.0.1'), { redeemed: false, refusal: 'used' });
    const admission = await a.sessions.open({ ...redeemed.ticket, protocol: 'rdp', source: redeemed.ticket.source });
    assert.ok(admission.admitted, JSON.stringify(admission));
    await admission.session.close({ reason: 'test' });
  });

  test('JSON for scripts, by ?format=json or by Accept; ids or names; several credentials must be named', async () => {
    const ben = await user('ben', { groupHosts: ['win01', 'win02'] });
    const byQuery = await connect(ben.client, { device: dev.win01, credential: cred['backup@win01'] }, '*/*', '?format=json');
    assert.equal(byQuery.status, 200, byQuery.body);
    assert.deepEqual(Object.keys(byQuery.json).sort(), ['expiresAt', 'host', 'port', 'ticket']);
    assert.match(byQuery.json.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([byQuery.json.host, byQuery.json.port], ['127.0.0.1', rdpSide.port]);
    const ttl = Date.parse(byQuery.json.expiresAt) - Date.now();
    assert.ok(ttl > 50_000 && ttl <= 60_000, `60 s to redeem (${ttl} ms left)`);
    const t = await a.rdpTickets.redeem(byQuery.json.ticket, '127.0.0.1');
    assert.equal(t.redeemed && t.ticket.credentialId, cred['backup@win01']);

    const byAccept = await connect(ben.client, { device: 'win01', credential: 'Administrator' }, 'application/json');
    assert.equal(byAccept.status, 200, byAccept.body);
    const u = await a.rdpTickets.redeem(byAccept.json.ticket, '127.0.0.1');
    assert.equal(u.redeemed && u.ticket.credentialId, cred['Administrator@win01']);

    // The device by its address, its only credential implied; ?format=rdp wins over an Accept for JSON.
    const byAddress = await connect(ben.client, { device: '127.0.0.32' }, 'application/json', '?format=rdp');
    assert.equal(byAddress.headers['content-disposition'], 'attachment; filename="win02.rdp"');
    assert.equal(parseRdp(byAddress.body).get('username'), 's:ben@win02');

    const ambiguous = await connect(ben.client, { device: 'win01' }, 'application/json');
    assert.equal(ambiguous.status, 400);
    assert.deepEqual(ambiguous.json.details.credentials.sort(), ['Administrator', 'backup']);
    assert.equal((await connect(ben.client, { device: 'win01', credential: 'x', extra: 1 }, 'application/json')).status, 400, 'unknown fields are refused');
  });

  test('refusals are the /my answers: not yours and not there read the same; an SSH-only device gets no ticket', async () => {
    const cy = await user('cy', { groupHosts: ['win02', 'linux01'] });
    const answers: HttpResponse[] = [
      await connect(cy.client, { device: 'win-other' }, 'application/json'),
      await connect(cy.client, { device: 'no-such-host' }, 'application/json'),
      await connect(cy.client, { device: dev['win-other'], credential: cred['Administrator@win-other'] }, 'application/json'),
      await connect(cy.client, { device: 999_999, credential: 999_998 }, 'application/json'),
      await connect(cy.client, { device: 'win02', credential: 'Administrator' }, 'application/json'),
    ];
    for (const r of answers) assert.deepEqual([r.status, r.json], [403, { error: 'AUTH_FORBIDDEN', message: 'Access denied' }], r.body);
    const ssh = await connect(cy.client, { device: dev.linux01, credential: cred['root@linux01'] }, 'application/json');
    assert.equal(ssh.status, 403);
    assert.equal(ssh.json.details.refusal, 'denied');
    const trail = await a.store.repos.auditEvents.query({ type: 'rdp_ticket.refused', limit: 100 });
    assert.ok(trail.some((e) => e.actor === 'cy' && JSON.parse(e.detail).rule === 'device-offers-no-rdp'));
  });

  test('signed in and CSRF-checked like every change; the ticket bound to the web client address', async () => {
    const dee = await user('dee', { groupHosts: ['win02'], localAddress: '127.0.0.2' });
    const noCsrf = await httpsRequest(d, {
      method: 'POST',
      path: '/api/v1/my/sessions/rdp',
      headers: { cookie: dee.client.cookie, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ device: 'win02' }),
      localAddress: '127.0.0.2',
    });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.error, 'AUTH_CSRF');
    const anonymous = await httpsRequest(d, { method: 'POST', path: '/api/v1/my/sessions/rdp', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ device: 'win02' }) });
    assert.deepEqual([anonymous.status, anonymous.json.message], [401, 'Invalid user credentials']);
    assert.equal((await a.store.repos.auditEvents.query({ type: 'rdp_ticket.issued', limit: 100 })).filter((e) => e.actor === 'dee').length, 0, 'no ticket without CSRF token or session');

    const r = await connect(dee.client, { device: 'win02' });
    const ticket = ticketOf(parseRdp(r.body));
    assert.deepEqual(await a.rdpTickets.redeem(ticket, '127.0.0.1'), { redeemed: false, refusal: 'wrong-source' });
    const again = ticketOf(parseRdp((await connect(dee.client, { device: 'win02' })).body));
    const ok = await a.rdpTickets.redeem(again, '127.0.0.2');
    assert.equal(ok.redeemed && ok.ticket.source, '127.0.0.2');
  });

  test('forced certificate: a password web session gets no ticket; a certificate web session one the session gate admits', async () => {
    const eve = await user('eve', { groupHosts: ['win02'] });
    const fay = await user('fay', { groupHosts: ['win02'], mfa: 'certificate' });
    const leaf = await issueLeaf(root, { commonName: 'fay', email: 'fay@example.test' });
    const key = await keyPem(leaf.keys);
    // Fay signs in: password, then her certificate in a TLS handshake (as a browser presents it), then her new password.
    assert.equal((await fay.client.login('fay', fay.otp)).json.mfaRequired, 'certificate');
    const mfa = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: d.httpsPort, method: 'POST', path: '/api/v1/auth/mfa/certificate', ca: d.ca, cert: leaf.pem, key, agent: false, headers: { cookie: fay.client.cookie, 'x-csrf-token': fay.client.csrf } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(mfa, 200);
    assert.equal((await fay.client.call('POST', '/api/v1/me/password', { currentPassword: fay.otp, newPassword: strongPassword() })).status, 204);

    assert.equal((await adminClient.call('PUT', '/api/v1/settings', { mfa: { forceCertificateForProxy: true } })).status, 200);
    // This process hears the change on the feed.
    for (let i = 0; i < 50 && !(await a.settings.current()).mfa.forceCertificateForProxy; i++) await new Promise((r) => setTimeout(r, 100));
    try {
      const refused = await connect(eve.client, { device: 'win02' }, 'application/json');
      assert.equal(refused.status, 403);
      assert.equal(refused.json.details.refusal, 'certificate-required');

      const r = await connect(fay.client, { device: 'win02' });
      assert.equal(r.status, 200, r.body);
      const t = await a.rdpTickets.redeem(ticketOf(parseRdp(r.body)), '127.0.0.1');
      assert.ok(t.redeemed, JSON.stringify(t));
      const binding = (await a.certificates.list({ userId: fay.id }))[0]!;
      assert.deepEqual(t.ticket.authentication, { method: 'password+certificate', certificateFingerprint: binding.fingerprint });
      const admission = await a.sessions.open({ ...t.ticket, protocol: 'rdp', source: t.ticket.source });
      assert.ok(admission.admitted, JSON.stringify(admission));
      await admission.session.close({ reason: 'test' });
    } finally {
      await adminClient.call('PUT', '/api/v1/settings', { mfa: { forceCertificateForProxy: false } });
    }
  });

  test('a real RDP client opens the file: its X.224 Connection Request carries the ticket as routing token and asks for TLS only', async () => {
    const gus = await user('gus', { groupHosts: ['win02'] });
    const r = await connect(gus.client, { device: 'win02' });
    assert.equal(r.status, 200, r.body);
    const ticket = ticketOf(parseRdp(r.body));
    const file = path.join(tmp.dir, 'win02.rdp');
    writeFileSync(file, r.body);
    // No password on the command line nor on stdin: the file alone must get the client to the proxy.
    const client = spawn('xvfb-run', ['-a', 'xfreerdp', file, '/cert:ignore'], { env: { ...process.env, HOME: tmp.dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    client.stdout!.on('data', (c) => (out += c));
    client.stderr!.on('data', (c) => (out += c));
    const exited = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    try {
      const cr = await Promise.race([rdpSide.next(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`xfreerdp did not connect within 20 s:\n${out}`)), 20_000)))]);
      // TPKT (version 3, length of the whole frame), then X.224 Connection Request (code 0xE0).
      assert.deepEqual([cr[0], cr[1], cr.readUInt16BE(2)], [3, 0, cr.length]);
      assert.equal(cr[5], 0xe0);
      const body = cr.subarray(11);
      const token = `tsv://warden/${ticket}\r\n`;
      assert.equal(body.subarray(0, token.length).toString('latin1'), token);
      // RDP_NEG_REQ: type 1, length 8, requestedProtocols PROTOCOL_SSL only (no CredSSP: enablecredsspsupport:i:0).
      const neg = body.subarray(token.length);
      assert.deepEqual([neg[0], neg.readUInt16LE(2), neg.readUInt32LE(4)], [1, 8, 1]);
    } finally {
      clearTimeout(timer);
      if (client.exitCode === null && client.signalCode === null) {
        try {
          process.kill(-client.pid!, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
      await exited;
    }
  });
});
