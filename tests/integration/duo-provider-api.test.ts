// The Duo provider API of the real daemon cannot be used to probe hosts and ports: a host that is not a
// Duo API host is refused before any connection, and every failed health check answers the same text
// (the reason is in the audit trail). The daemon's config names a local Duo-protocol server and two other
// loopback test hosts (auth.duoTestHosts, beside auth.duoCaFile), so the failures can be produced here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initializedHome, strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { startFakeDuo, type FakeDuo } from '../helpers/fake-duo.js';
import { probeListener, type Probe } from '../helpers/net-probe.js';

describe('Duo provider API: no host or port probing', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  let duo: FakeDuo;
  let plain: Probe;
  let refusedPort: number;

  before(async () => {
    home = await initializedHome();
    duo = await startFakeDuo('127.0.0.1');
    plain = await probeListener('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nnot Duo\n');
    const closed = await probeListener();
    await closed.close();
    refusedPort = closed.port;
    writeFileSync(path.join(home.home, 'duo-ca.pem'), duo.caPem);
    const config = JSON.parse(readFileSync(home.configFile, 'utf8'));
    config.auth = { ...(config.auth ?? {}), duoCaFile: 'duo-ca.pem', duoTestHosts: [duo.apiHost, `127.0.0.1:${refusedPort}`, `127.0.0.1:${plain.port}`] };
    writeFileSync(home.configFile, JSON.stringify(config));
    d = await startWebDaemon(home);
    admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
  });
  after(async () => {
    await d?.stop();
    await duo?.close();
    await plain?.close();
    home?.cleanup();
  });

  const provider = (extra: Record<string, unknown> = {}) => ({ name: 'Duo', enabled: true, apiHost: duo.apiHost, clientId: duo.clientId, clientSecret: duo.clientSecret, ...extra });

  test('a host:port that is neither a Duo API host nor a configured test host is refused with 400 and never connected to', async () => {
    const probe = await probeListener();
    try {
      for (const apiHost of [`127.0.0.1:${probe.port}`, `localhost:${probe.port}`, `user@127.0.0.1:${probe.port}`, `127.0.0.1:${probe.port}/oauth`]) {
        const r = await admin.call('POST', '/api/v1/mfa/providers', provider({ apiHost }));
        assert.equal(r.status, 400, `${apiHost}: ${r.body}`);
        assert.equal(r.json.error, 'INPUT_INVALID');
        assert.equal(r.json.details?.field, 'apiHost');
      }
      assert.equal(probe.connections, 0, 'no connection reached the listener');
    } finally {
      await probe.close();
    }
  });

  test('different health-check failures give the client the same answer; the audit trail has each reason', async () => {
    const attempts: [string, () => Promise<{ status: number; body: string }>][] = [
      ['wrong-secret', () => admin.call('POST', '/api/v1/mfa/providers', provider({ name: 'wrong-secret', clientSecret: 'y'.repeat(40) }))],
      ['duo-down', async () => {
        duo.healthy = false;
        try {
          return await admin.call('POST', '/api/v1/mfa/providers', provider({ name: 'duo-down' }));
        } finally {
          duo.healthy = true;
        }
      }],
      ['refused', () => admin.call('POST', '/api/v1/mfa/providers', provider({ name: 'refused', apiHost: `127.0.0.1:${refusedPort}` }))],
      ['not-tls', () => admin.call('POST', '/api/v1/mfa/providers', provider({ name: 'not-tls', apiHost: `127.0.0.1:${plain.port}` }))],
    ];
    const answers = new Set<string>();
    for (const [what, attempt] of attempts) {
      const r = await attempt();
      assert.equal(r.status, 422, `${what}: ${r.body}`);
      answers.add(r.body);
    }
    assert.equal(plain.connections, 1, 'the configured plain-text test host was reached');
    assert.deepEqual([...answers], [JSON.stringify({ error: 'MFA_PROVIDER_INVALID', message: 'the Duo health check failed' })]);

    const events = (await admin.call('GET', '/api/v1/audit?type=mfa.provider_save')).json.events as { outcome: string; subject: string; code: string; detail: { reason: string } }[];
    const reasons = new Map(events.filter((e) => e.outcome === 'failure').map((e) => [e.subject, e.detail.reason]));
    for (const [what] of attempts) assert.ok(reasons.get(what), `the reason for ${what} is audited`);
    assert.equal(new Set(attempts.map(([what]) => reasons.get(what))).size, attempts.length, [...reasons.values()].join('\n'));
    assert.equal((await admin.call('GET', '/api/v1/mfa/providers')).json.providers.length, 0, 'nothing saved');
  });

  test('the configured test host with the right credentials is saved', async () => {
    const r = await admin.call('POST', '/api/v1/mfa/providers', provider());
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.provider.apiHost, duo.apiHost);
  });
});
