import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { IpDenylist, parseCidr } from '../../../appliance/auth/index.js';
import { InputError } from '../../../appliance/errors/index.js';

describe('IP denylist', () => {
  const list = new IpDenylist(['203.0.113.0/24', '192.0.2.9', '2001:db8:dead::/48', '::1/128']);

  const cases: [string, boolean][] = [
    ['203.0.113.1', true],
    ['203.0.113.255', true],
    ['203.0.114.1', false],
    ['192.0.2.9', true],
    ['192.0.2.10', false],
    ['::ffff:203.0.113.4', true],
    ['2001:db8:dead:beef::1', true],
    ['2001:db8:beef::1', false],
    ['::1', true],
    ['127.0.0.1', false],
    ['not-an-ip', true],
    ['', true],
  ];
  for (const [ip, denied] of cases) {
    test(`${ip || '(empty)'} is ${denied ? 'denied' : 'allowed'}`, () => assert.equal(list.denies(ip), denied));
  }

  test('invalid ranges are refused with a clear error', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fe80::/129', 'example.com', '10.0.0.0/-1', '10.0.0.0/8/8']) {
      assert.throws(() => parseCidr(bad), InputError, bad);
    }
  });

  test('an empty list denies no valid address', () => {
    assert.equal(new IpDenylist([]).denies('198.51.100.1'), false);
  });
});
