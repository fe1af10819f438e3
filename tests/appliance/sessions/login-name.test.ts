// The SSH login name: who the Warden user is and where they go, parsed strictly before any lookup.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoginName } from '../../../appliance/sessions/index.js';
import { clampPty, PTY_MAX } from '../../../daemons/terminal-proxy/connection.js';

describe('terminal proxy login names', () => {
  test('the menu, a credential at a device (by name or address), a device alone', () => {
    assert.deepEqual(parseLoginName('alice'), { wardenUser: 'alice', target: null });
    assert.deepEqual(parseLoginName('alice:root@db01'), { wardenUser: 'alice', target: { device: 'db01', credentialUser: 'root' } });
    assert.deepEqual(parseLoginName('alice:root@127.0.0.9'), { wardenUser: 'alice', target: { device: '127.0.0.9', credentialUser: 'root' } });
    assert.deepEqual(parseLoginName('alice:root@::1'), { wardenUser: 'alice', target: { device: '::1', credentialUser: 'root' } });
    assert.deepEqual(parseLoginName('alice@db01.example.test'), { wardenUser: 'alice', target: { device: 'db01.example.test', credentialUser: null } });
    assert.deepEqual(parseLoginName('alice:CORP\\svc_app@db01'), { wardenUser: 'alice', target: { device: 'db01', credentialUser: 'CORP\\svc_app' } });
  });

  test("a Warden name holding '@' names a device after its last '@', or the menu with a trailing '@'", () => {
    assert.deepEqual(parseLoginName('alice@example.test@db01'), { wardenUser: 'alice@example.test', target: { device: 'db01', credentialUser: null } });
    assert.deepEqual(parseLoginName('alice@example.test@'), { wardenUser: 'alice@example.test', target: null });
  });

  test('anything else is refused: empty parts, spaces, control characters, bad host names, huge names', () => {
    for (const bad of ['', '@db01', ':root@db01', 'alice:@db01', 'alice:root@', 'alice:ro ot@db01', 'al ice', 'alice\n', 'alice:root@db_01', 'alice:root@-db', 'alice:root@db01:22', `alice:root@${'a'.repeat(300)}`, 'u'.repeat(10 * 1024), '.alice', 'alice:root\u0000@db01']) {
      assert.equal(parseLoginName(bad), null, JSON.stringify(bad.slice(0, 40)));
    }
  });
});

describe('terminal proxy PTY requests', () => {
  test('sizes are clamped, an unknown size stays 0, a strange terminal type becomes xterm', () => {
    const p = clampPty({ term: 'xterm-256color', cols: 4_000_000_000, rows: -5, width: 1e9, height: 0 });
    assert.deepEqual([p.term, p.cols, p.rows, p.width, p.height], ['xterm-256color', PTY_MAX.cols, 0, PTY_MAX.pixels, 0]);
    assert.equal(clampPty({ term: 'x; rm -rf /', cols: 80, rows: 24 }).term, 'xterm');
    assert.equal(clampPty({ term: 'a'.repeat(65) }).term, 'xterm');
  });
});
