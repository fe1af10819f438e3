// Network settings as systemd-networkd files under a root: what is written for each kind of address, that
// show reads it back, that a family left out keeps its setting, and that bad input changes nothing.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setNetwork, showNetwork, systemTarget } from '../../../appliance/system/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { snapshot, systemRoot } from '../../helpers/system-root.js';

describe('appliance/system network', () => {
  const root = systemRoot();
  const t = systemTarget({ root: root.dir });
  after(() => root.cleanup());
  const file = (iface: string) => path.join(root.dir, 'etc/systemd/network', `10-warden-${iface}.network`);

  test('--root means that directory and no reload; no root means the running machine', () => {
    assert.deepEqual(t, { root: root.dir, live: false });
    assert.deepEqual(systemTarget({}), { root: '/', live: true });
  });

  test('a static IPv4 address with gateway and a static IPv6 address are written as one .network file, 0644', async () => {
    process.umask(0o077);
    await setNetwork(t, { interface: 'eth0', ipv4: { address: '127.0.0.10/8', gateway: '127.0.0.1' }, ipv6: { address: '::1/128', gateway: '::1' } });
    assert.equal(
      readFileSync(file('eth0'), 'utf8'),
      [
        '# Written by orbit ("orbit network set"); change it with orbit, not by hand.',
        '[Match]',
        'Name=eth0',
        '',
        '[Network]',
        'DHCP=no',
        'Address=127.0.0.10/8',
        'Gateway=127.0.0.1',
        'Address=::1/128',
        'Gateway=::1',
        'IPv6AcceptRA=no',
        'LinkLocalAddressing=ipv6',
        '',
      ].join('\n'),
    );
    // systemd-networkd reads it as its own user, whatever orbit's umask.
    assert.equal(statSync(file('eth0')).mode & 0o777, 0o644);
    assert.equal(statSync(path.dirname(file('eth0'))).mode & 0o777, 0o755);
    assert.deepEqual(await showNetwork(t), [{ interface: 'eth0', ipv4: { address: '127.0.0.10/8', gateway: '127.0.0.1' }, ipv6: { address: '::1/128', gateway: '::1' } }]);
    // Atomic: written under a temporary name and renamed; nothing else is left beside it.
    assert.deepEqual(readdirSync(path.dirname(file('eth0'))), ['10-warden-eth0.network']);
  });

  test('a family not given keeps its setting: DHCP for IPv4 leaves the static IPv6 as it was', async () => {
    await setNetwork(t, { interface: 'eth0', ipv4: { dhcp: true } });
    const text = readFileSync(file('eth0'), 'utf8');
    assert.match(text, /^DHCP=ipv4$/m);
    assert.doesNotMatch(text, /Address=127/);
    assert.match(text, /^Address=::1\/128$/m);
    assert.deepEqual((await showNetwork(t))[0], { interface: 'eth0', ipv4: { dhcp: true }, ipv6: { address: '::1/128', gateway: '::1' } });
  });

  test('DHCP on both families, router advertisements, and IPv6 off', async () => {
    await setNetwork(t, { interface: 'ens3', ipv4: { dhcp: true }, ipv6: { dhcp: true } });
    assert.match(readFileSync(file('ens3'), 'utf8'), /^DHCP=yes\nIPv6AcceptRA=yes\nLinkLocalAddressing=ipv6\n$/m);
    await setNetwork(t, { interface: 'ens3', ipv6: { auto: true } });
    assert.match(readFileSync(file('ens3'), 'utf8'), /^DHCP=ipv4\nIPv6AcceptRA=yes\n/m);
    await setNetwork(t, { interface: 'ens3', ipv6: { disabled: true } });
    assert.match(readFileSync(file('ens3'), 'utf8'), /^DHCP=ipv4\nIPv6AcceptRA=no\nLinkLocalAddressing=no\n$/m);
    const shown = await showNetwork(t);
    assert.deepEqual(shown.map((s) => s.interface), ['ens3', 'eth0']);
    assert.deepEqual(shown[0], { interface: 'ens3', ipv4: { dhcp: true }, ipv6: { disabled: true } });
  });

  test('a new interface given only IPv4 gets IPv6 from router advertisements', async () => {
    await setNetwork(t, { interface: 'enp0s31f6', ipv4: { address: '127.0.0.20/8' } });
    assert.deepEqual((await showNetwork(t)).find((s) => s.interface === 'enp0s31f6'), { interface: 'enp0s31f6', ipv4: { address: '127.0.0.20/8' }, ipv6: { auto: true } });
  });

  const refused: [string, Parameters<typeof setNetwork>[1], RegExp][] = [
    ['an address without prefix', { interface: 'eth0', ipv4: { address: '127.0.0.10' } }, /127\.0\.0\.10 has no prefix length: write it as address\/prefix/],
    ['an IPv6 address without prefix', { interface: 'eth0', ipv6: { address: '::1' } }, /IPv6 address ::1 has no prefix length/],
    ['a prefix out of range', { interface: 'eth0', ipv4: { address: '127.0.0.10/33' } }, /prefix length must be a number from 1 to 32/],
    ['an IPv6 address given as IPv4', { interface: 'eth0', ipv4: { address: '::1/128' } }, /is an IPv6 address; an IPv4 address is expected/],
    ['a gateway outside the family', { interface: 'eth0', ipv4: { address: '127.0.0.10/8', gateway: '::1' } }, /IPv4 gateway ::1 is an IPv6 address, outside the IPv4 family/],
    ['an IPv6 gateway outside the family', { interface: 'eth0', ipv6: { address: '::1/128', gateway: '127.0.0.1' } }, /IPv6 gateway 127\.0\.0\.1 is an IPv4 address, outside the IPv6 family/],
    ['a gateway with a prefix', { interface: 'eth0', ipv4: { address: '127.0.0.10/8', gateway: '127.0.0.1/8' } }, /without a prefix length/],
    ['not an address', { interface: 'eth0', ipv4: { address: 'router/24' } }, /"router" is not an IP address/],
    ['an interface name with a space', { interface: 'eth 0', ipv4: { dhcp: true } }, /interface "eth 0" is not an interface name/],
    ['an interface name with a slash', { interface: '../eth0', ipv4: { dhcp: true } }, /is not an interface name/],
    ['an interface name too long', { interface: 'a234567890123456', ipv4: { dhcp: true } }, /is not an interface name: 1 to 15/],
    ['nothing to set', { interface: 'eth0' }, /nothing to set/],
    ['dhcp and an address at once', { interface: 'eth0', ipv4: { dhcp: true, address: '127.0.0.10/8' } as never }, /exactly one of/],
  ];
  for (const [what, spec, message] of refused) {
    test(`refused, nothing changed: ${what}`, async () => {
      const before = snapshot(root.dir);
      await assert.rejects(setNetwork(t, spec), (e) => isWardenError(e) && e.code === 'INPUT_INVALID' && message.test(e.message));
      assert.deepEqual(snapshot(root.dir), before);
    });
  }

  test('on the running machine without systemd, the file is written and the failed reload says so', { skip: statSafe('/run/systemd/system') ? 'systemd runs here: a live reload would touch this machine' : false }, async () => {
    const live = { root: root.dir, live: true };
    await assert.rejects(setNetwork(live, { interface: 'wlive0', ipv4: { dhcp: true } }), /10-warden-wlive0\.network was written, but the running system did not take it: networkctl reload failed/);
    assert.match(readFileSync(file('wlive0'), 'utf8'), /^DHCP=ipv4$/m);
  });
});

function statSafe(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
