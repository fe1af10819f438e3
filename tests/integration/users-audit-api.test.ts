// The API the web console's Users and Audit pages read, over real HTTPS from the real web daemon: users paged
// and filtered on the server (text, status, limit/offset, total), the audit trail filtered by actor and paged
// by sequence number (keyset), its CSV export with the same filters, and who may read what.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { strongPassword, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, type RunningDaemon, daemonWithAdmin } from '../helpers/web-daemon.js';

describe('console API: users paging and the audit trail', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  let admin: ApiClient;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};

  before(async () => {
    ({ home, d, admin } = await daemonWithAdmin());
    const people: [string, string, string, string][] = [
      ['ana', 'Ana Lima', 'ana@example.test', 'auditor'],
      ['bruno', 'Bruno Souza', 'bruno@ops.example.test', 'privileged-access-user'],
      ['carla', 'Carla Dias', 'carla@example.test', 'privileged-access-user'],
      ['dmitri', 'Дмитрий Орлов', 'dmitri@example.test', 'privileged-access-user'],
      ['eva_x', 'Eva 100% Real', 'eva@example.test', 'privileged-access-user'],
      ['evax', 'Evax Other', 'evax@example.test', 'privileged-access-user'],
    ];
    for (const [username, fullName, email, profile] of people) {
      const r = await admin.call('POST', '/api/v1/users', { username, fullName, email, profile });
      assert.equal(r.status, 201, r.body);
      ids[username] = r.json.user.id;
      if (username === 'ana' || username === 'bruno') {
        clients[username] = new ApiClient(d);
        await clients[username]!.loginAndChange(username, r.json.oneTimePassword, strongPassword());
      }
    }
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
  });

  test('the list pages on the server: limit, offset, total; default 50, at most 500', async () => {
    const all = await admin.call('GET', '/api/v1/users');
    assert.equal(all.status, 200);
    assert.equal(all.json.total, 7);
    assert.deepEqual(all.json.users.map((u: { username: string }) => u.username), ['admin', 'ana', 'bruno', 'carla', 'dmitri', 'eva_x', 'evax']);
    const second = await admin.call('GET', '/api/v1/users?limit=3&offset=3');
    assert.equal(second.json.total, 7);
    assert.deepEqual(second.json.users.map((u: { username: string }) => u.username), ['carla', 'dmitri', 'eva_x']);
    const past = await admin.call('GET', '/api/v1/users?limit=3&offset=30');
    assert.deepEqual([past.json.users.length, past.json.total], [0, 7]);
    assert.equal((await admin.call('GET', '/api/v1/users?limit=501')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/users?limit=0')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/users?offset=-1')).status, 400);
    assert.equal((await admin.call('GET', '/api/v1/users?sort=x')).status, 400, 'unknown parameters are refused');
  });

  test('the text filter matches user name, full name and e-mail; wildcards are plain characters', async () => {
    const names = async (q: string) => (await admin.call('GET', `/api/v1/users?q=${encodeURIComponent(q)}`)).json.users.map((u: { username: string }) => u.username);
    assert.deepEqual(await names('BRU'), ['bruno'], 'user name, ignoring case');
    assert.deepEqual(await names('dias'), ['carla'], 'full name');
    assert.deepEqual(await names('ops.example'), ['bruno'], 'e-mail');
    assert.deepEqual(await names('Орлов'), ['dmitri'], 'non-Latin text');
    assert.deepEqual(await names('eva_'), ['eva_x'], '_ is not a wildcard');
    assert.deepEqual(await names('100%'), ['eva_x'], '% is not a wildcard');
    assert.deepEqual(await names('nobody-here'), []);
    const r = await admin.call('GET', '/api/v1/users?q=eva&limit=1');
    assert.deepEqual([r.json.users.length, r.json.total], [1, 2], 'total counts every match, not the page');
  });

  test('the status filter: active, disabled, locked', async () => {
    assert.equal((await admin.call('POST', `/api/v1/users/${ids.carla}/disable`)).status, 200);
    // Five wrong passwords lock dmitri (the default lockout).
    const stranger = new ApiClient(d);
    for (let i = 0; i < 5; i++) await stranger.login('dmitri', 'Wrong-Password-123');
    const names = async (status: string) => (await admin.call('GET', `/api/v1/users?status=${status}`)).json.users.map((u: { username: string }) => u.username);
    assert.deepEqual(await names('disabled'), ['carla']);
    assert.deepEqual(await names('locked'), ['dmitri']);
    assert.ok(!(await names('active')).includes('carla'));
    assert.equal((await admin.call('GET', '/api/v1/users?status=gone')).status, 400);
    assert.equal((await admin.call('POST', `/api/v1/users/${ids.dmitri}/unlock`)).status, 200);
    assert.deepEqual(await names('locked'), []);
    assert.equal((await admin.call('POST', `/api/v1/users/${ids.carla}/enable`)).status, 200);
  });

  test('who may: an auditor reads users but cannot change them; a privileged-access user reads neither list', async () => {
    assert.equal((await clients.ana!.call('GET', '/api/v1/users?limit=2')).status, 200);
    assert.equal((await clients.ana!.call('POST', `/api/v1/users/${ids.evax}/disable`)).status, 403);
    assert.equal((await clients.ana!.call('POST', '/api/v1/users', { username: 'x1', fullName: 'x', profile: 'auditor' })).status, 403);
    assert.equal((await clients.bruno!.call('GET', '/api/v1/users')).status, 403);
    assert.equal((await clients.bruno!.call('GET', '/api/v1/audit')).status, 403);
    assert.equal((await clients.bruno!.call('GET', '/api/v1/audit?format=csv')).status, 403);
    const me = await clients.ana!.call('GET', '/api/v1/me');
    assert.ok(me.json.permissions.includes('audit.read'));
    assert.ok(!me.json.permissions.includes('users.manage'));
  });

  test('the audit trail: filter by actor, keyset pages that neither skip nor repeat, nextBefore null at the end', async () => {
    const byAdmin = await clients.ana!.call('GET', '/api/v1/audit?actor=admin&limit=500');
    assert.equal(byAdmin.status, 200);
    assert.ok(byAdmin.json.events.length >= 8);
    assert.ok(byAdmin.json.events.every((e: { actor: string }) => e.actor === 'admin'));
    assert.equal(byAdmin.json.nextBefore, null);

    const seen: number[] = [];
    let before: number | null = null;
    for (let guard = 0; guard < 100; guard++) {
      const page: { status: number; json: { events: { seq: number }[]; nextBefore: number | null } } = await clients.ana!.call('GET', `/api/v1/audit?actor=admin&limit=3${before ? `&before=${before}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.json.events.length <= 3);
      seen.push(...page.json.events.map((e) => e.seq));
      before = page.json.nextBefore;
      if (before === null) break;
    }
    assert.deepEqual(seen, byAdmin.json.events.map((e: { seq: number }) => e.seq), 'the pages together are the whole, newest first');

    const created = await clients.ana!.call('GET', '/api/v1/audit?type=user.create&actor=admin&subject=carla');
    assert.equal(created.json.events.length, 1);
    assert.equal((await clients.ana!.call('GET', '/api/v1/audit?limit=501')).status, 400);
    assert.equal((await clients.ana!.call('GET', '/api/v1/audit?before=abc')).status, 400);
  });

  test('CSV export: the same filters, every matching row (not one page), a filename, formulas neutralized', async () => {
    const r = await clients.ana!.call('GET', '/api/v1/audit?format=csv&actor=admin&type=user.create');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/csv/);
    assert.match(String(r.headers['content-disposition']), /^attachment; filename="warden-audit-[0-9TZ-]+\.csv"$/);
    const lines = r.body.trim().split('\r\n');
    assert.equal(lines[0], 'seq,at,type,event_code,severity,outcome,actor,actor_ip,subject,code,detail,hash');
    assert.equal(lines.length - 1, 6, 'six users created by admin');
    assert.ok(lines.slice(1).every((l) => l.split(',')[2] === 'user.create' && l.split(',')[6] === 'admin'));
    const subjects = lines.slice(1).map((l) => l.split(',')[8]).sort();
    assert.deepEqual(subjects, ['ana', 'bruno', 'carla', 'dmitri', 'eva_x', 'evax']);

    // A failed login records the name typed; one a spreadsheet would run as a formula comes out inert.
    await new ApiClient(d).login('=HYPERLINK("http://127.0.0.1/x")', 'Wrong-Password-123');
    const failed = await clients.ana!.call('GET', '/api/v1/audit?format=csv&type=auth.login');
    assert.ok(failed.body.includes(`"'=HYPERLINK(""http://127.0.0.1/x"")"`), failed.body);
    const all = await clients.ana!.call('GET', '/api/v1/audit?format=csv');
    const rows = all.body.trim().split('\r\n').length - 1;
    const verdict = await clients.ana!.call('GET', '/api/v1/audit/verify');
    assert.equal(rows, verdict.json.verdict.rows, 'the export is not cut at a page');
  });
});
