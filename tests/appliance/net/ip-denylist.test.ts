import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { IpDenylist, assertDenylistSafe, parseCidr } from '../../../appliance/net/index.js';
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
    assert.equal(new IpDenylist([]).denies('::1'), false);
  });

  test('an empty list still denies an address it cannot parse (fail closed)', () => {
    assert.equal(new IpDenylist([]).denies('not-an-address'), true);
    assert.equal(new IpDenylist([]).denies(''), true);
  });

  const refused: [string, string[], string | null][] = [
    ['every IPv4 address', ['0.0.0.0/0'], null],
    ['every address', ['::/0'], null],
    ['every IPv4 address as IPv4-mapped IPv6', ['::ffff:0:0/96'], null],
    ['every IPv4 address inside a wider IPv6 range (::/1 holds ::ffff:0:0/96)', ['::/1'], null],
    ['an IPv6 caller by its own address', ['::1'], '::1'],
    ["an IPv6 caller's network", ['2001:db8::/32'], '2001:db8::5'],
    ['an IPv4 caller on a dual-stack socket, by its IPv4 network', ['192.0.2.0/24'], '::ffff:192.0.2.7'],
    ['an IPv4 caller, by an IPv4-mapped IPv6 range', ['::ffff:192.0.2.0/120'], '192.0.2.7'],
    ['an IPv4 caller, by its address among others', ['198.51.100.0/24', '192.0.2.7'], '192.0.2.7'],
  ];
  for (const [what, list, caller] of refused) {
    test(`a denylist covering ${what} is refused`, () => {
      assert.throws(() => assertDenylistSafe(list, caller), (e: unknown) => e instanceof InputError && /lock (you|everyone) out/.test(e.message));
    });
  }

  test('a denylist covering neither the caller nor a whole family is accepted', () => {
    assertDenylistSafe(['127.0.0.2/32', '2001:db8::/32', '0.0.0.0/1', '8000::/1'], '::ffff:203.0.113.9');
    assertDenylistSafe(['10.0.0.0/8'], '::1');
    assertDenylistSafe([], '127.0.0.1');
  });
});
