// The warden units and the firewall: service names are checked, systemctl's "no systemd here" becomes one
// clear refusal (the nspawn boot test runs them against a real systemd), and the peer sets are read from
// the policy file under a root.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { restartServices, serviceNames, serviceStatus, showFirewall, setElementsInText, systemTarget } from '../../../appliance/system/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { systemRoot } from '../../helpers/system-root.js';

const systemdHere = existsSync('/run/systemd/system');

describe('appliance/system services', () => {
  test('service names: web, terminal-proxy, rdp-proxy, all; anything else refused with the list', () => {
    assert.deepEqual(serviceNames('all'), ['web', 'terminal-proxy', 'rdp-proxy']);
    assert.deepEqual(serviceNames(undefined), ['web', 'terminal-proxy', 'rdp-proxy']);
    assert.deepEqual(serviceNames('rdp-proxy'), ['rdp-proxy']);
    assert.throws(() => serviceNames('sshd'), (e) => isWardenError(e) && e.code === 'INPUT_INVALID' && /unknown service "sshd": one of web, terminal-proxy, rdp-proxy, all/.test(e.message));
  });

  test('under --root there are no services to manage', async () => {
    const t = systemTarget({ root: '/nonexistent' });
    await assert.rejects(serviceStatus(t), /--root does not apply/);
    await assert.rejects(restartServices(t, ['web']), /--root does not apply/);
  });

  test('where systemd is not PID 1, systemctl cannot reach it and the refusal says so', { skip: systemdHere ? 'systemd runs here' : false }, async () => {
    const t = systemTarget({});
    await assert.rejects(serviceStatus(t), (e) => isWardenError(e) && /^systemd is not running on this machine \(it is not PID 1\)/.test(e.message) && /systemctl said: .*(booted with systemd|connect to bus)/.test(e.message));
    await assert.rejects(restartServices(t, ['web']), /systemd is not running on this machine/);
  });
});

describe('appliance/system firewall', () => {
  const root = systemRoot();
  after(() => root.cleanup());

  const policy = [
    'table inet warden {',
    '  set cluster_peers4 { type ipv4_addr; flags interval; elements = { 127.0.0.2, 127.0.0.3 } }',
    '  set cluster_peers6 {',
    '    type ipv6_addr',
    '  }',
    '  chain input { type filter hook input priority 0; policy drop; }',
    '}',
    '',
  ].join('\n');

  test('the sets\' elements as the policy file lists them', () => {
    assert.deepEqual(setElementsInText(policy, 'cluster_peers4'), ['127.0.0.2', '127.0.0.3']);
    assert.deepEqual(setElementsInText(policy, 'cluster_peers6'), []);
    assert.deepEqual(setElementsInText(policy, 'missing'), []);
  });

  test('under --root: the policy text and the peer sets from the file, no kernel ruleset', async () => {
    const t = systemTarget({ root: root.dir });
    assert.deepEqual(await showFirewall(t), { policyFile: '/etc/nftables.conf', policy: null, ruleset: null, peers: { cluster_peers4: [], cluster_peers6: [] }, peersFrom: 'file' });
    mkdirSync(path.join(root.dir, 'etc'), { recursive: true });
    writeFileSync(path.join(root.dir, 'etc/nftables.conf'), policy);
    const view = await showFirewall(t);
    assert.equal(view.policy, policy);
    assert.deepEqual(view.peers, { cluster_peers4: ['127.0.0.2', '127.0.0.3'], cluster_peers6: [] });
  });
});
