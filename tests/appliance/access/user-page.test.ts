// The users list the console pages through, on the store itself (SQLite here, MariaDB in the second run):
// order, limit/offset and total, the text filter with LIKE's wildcards taken literally, and the status filter —
// where "locked" follows the lockout's duration, so a lock that has run out no longer counts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { services, type Services } from '../../helpers/fixtures.js';

const admin = { username: 'root-admin', ip: '127.0.0.1' };

describe('users page (server-side paging and filters)', () => {
  let s: Services;
  const ids: Record<string, number> = {};

  before(async () => {
    s = await services();
    const people: [string, string, string][] = [
      ['alice', 'Alice Moreau', 'alice@example.test'],
      ['bob', 'Bob 50% Off', 'bob@example.test'],
      ['b_x', 'B X', 'bx@corp.example.test'],
      ['bax', 'Bax', 'bax@example.test'],
      ['carol', 'Carol!Bang', 'carol@example.test'],
    ];
    for (const [username, fullName, email] of people) ids[username] = (await s.users.create(admin, { username, fullName, email, profile: 'auditor', password: 'Str0ng-Passw0rd-Long-1' })).user.id;
  });
  after(async () => s?.close());

  const names = async (filter: Parameters<Services['users']['page']>[0]) => (await s.users.page(filter)).users.map((u) => u.username);

  test('ordered by name, limit and offset, total of every match', async () => {
    assert.deepEqual(await names({ limit: 50, offset: 0 }), ['alice', 'b_x', 'bax', 'bob', 'carol']);
    const page = await s.users.page({ limit: 2, offset: 2 });
    assert.deepEqual([page.users.map((u) => u.username), page.total], [['bax', 'bob'], 5]);
    assert.deepEqual((await s.users.page({ text: 'b', limit: 1, offset: 0 })).total, 4);
  });

  test('text: name, full name or e-mail, any case; % _ and the escape character ! are plain characters', async () => {
    assert.deepEqual(await names({ text: 'MOREAU', limit: 50, offset: 0 }), ['alice']);
    assert.deepEqual(await names({ text: 'corp.example', limit: 50, offset: 0 }), ['b_x']);
    assert.deepEqual(await names({ text: 'b_x', limit: 50, offset: 0 }), ['b_x'], '_ would match bax as a wildcard');
    assert.deepEqual(await names({ text: '50%', limit: 50, offset: 0 }), ['bob']);
    assert.deepEqual(await names({ text: '%', limit: 50, offset: 0 }), ['bob']);
    assert.deepEqual(await names({ text: 'l!b', limit: 50, offset: 0 }), ['carol']);
    assert.deepEqual(await names({ text: '!', limit: 50, offset: 0 }), ['carol']);
  });

  test('status: disabled, active, and locked only while the lock lasts', async () => {
    await s.users.setStatus(admin, ids.bax!, 'disabled');
    assert.deepEqual(await names({ status: 'disabled', limit: 50, offset: 0 }), ['bax']);
    assert.ok(!(await names({ status: 'active', limit: 50, offset: 0 })).includes('bax'));

    const { maxAttempts, durationMinutes } = (await s.settings.current()).lockout;
    for (let i = 0; i < maxAttempts; i++) await s.auth.login({ username: 'carol', password: 'Wrong-Password-1', ip: '127.0.0.9' }).catch(() => undefined);
    assert.deepEqual(await names({ status: 'locked', limit: 50, offset: 0 }), ['carol']);
    assert.equal((await s.users.page({ text: 'carol', limit: 1, offset: 0 })).users[0]!.locked, true);
    s.clock.advance((durationMinutes + 1) * 60_000);
    assert.deepEqual(await names({ status: 'locked', limit: 50, offset: 0 }), [], 'the lock ran out');
    assert.equal((await s.users.page({ text: 'carol', limit: 1, offset: 0 })).users[0]!.locked, false);
  });

  test('audit: actor filter and keyset pages; the CSV reads every page', async () => {
    const all = await s.audit.events({ actor: admin.username, limit: 500 });
    assert.ok(all.length >= 6);
    const seen: number[] = [];
    let beforeSeq: number | undefined;
    for (;;) {
      const page = await s.audit.events({ actor: admin.username, limit: 2, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      if (page.length === 0) break;
      seen.push(...page.map((e) => Number(e.seq)));
      beforeSeq = Number(page[page.length - 1]!.seq);
    }
    assert.deepEqual(seen, all.map((e) => Number(e.seq)));
    let csv = '';
    for await (const chunk of s.audit.csv({ actor: admin.username, limit: 2 })) csv += chunk;
    const lines = csv.trim().split('\r\n');
    assert.equal(lines.length - 1, all.length, 'pages of 2 add up to the whole');
    assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',')[0])), seen);
  });
});
