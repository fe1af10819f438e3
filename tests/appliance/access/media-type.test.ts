// Media types of protected items (security review, issue 7, finding 6): RFC 6838 names on the way in,
// and a stored value that is not one never reaches a Content-Type header.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMediaType, servableMediaType, validateMediaType } from '../../../appliance/access/media-type.js';
import { InputError } from '../../../appliance/errors/index.js';

describe('media types', () => {
  const good: [string, string][] = [
    ['application/pdf', 'application/pdf'],
    ['Application/VND.Example+JSON', 'application/vnd.example+json'],
    ['application/x-pem-file', 'application/x-pem-file'],
    ['text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
    ['text/plain;CHARSET="utf-8"', 'text/plain; charset="utf-8"'],
    ['multipart/mixed; boundary="a b\\"c"', 'multipart/mixed; boundary="a b\\"c"'],
    ['image/svg+xml', 'image/svg+xml'],
  ];
  for (const [input, canonical] of good) test(`${JSON.stringify(input)} is accepted as ${canonical}`, () => assert.equal(validateMediaType(input), canonical));

  const bad = [
    'text/plain\u2028',
    'text/plain\u2029',
    'text/plain\r\nx-evil: 1',
    'text/plain\n',
    'text',
    'text/',
    '/plain',
    'te xt/plain',
    'text/pl ain',
    '-text/plain',
    'text/.plain',
    'tëxt/plain',
    'text/plain; charset',
    'text/plain; charset=',
    'text/plain; charset=ü',
    'text/plain; a="unterminated',
    'text/plain; a="\u0001"',
    'text/plain/extra',
    `application/${'a'.repeat(127)}`,
  ];
  for (const input of bad) {
    test(`${JSON.stringify(input)} is refused with a clear error`, () =>
      assert.throws(() => validateMediaType(input), (e) => e instanceof InputError && /mediaType/.test(e.message)));
  }
  test('absent or empty means application/octet-stream; a non-string is refused', () => {
    assert.equal(validateMediaType(undefined), 'application/octet-stream');
    assert.equal(validateMediaType(''), 'application/octet-stream');
    assert.throws(() => validateMediaType(42), InputError);
  });
  test('a bad stored value is served as application/octet-stream', () => {
    for (const input of bad) assert.equal(servableMediaType(input), 'application/octet-stream');
    assert.equal(servableMediaType('text/plain; charset=utf-8'), 'text/plain; charset=utf-8');
    assert.equal(canonicalMediaType('text/plain\u2028'), null);
  });
});
