// The change feed on a real SQLite file with two connections and a second process: a change is announced
// with its transaction or not at all, seqs follow commit order without holes, a follower delivers in order
// and is told when it missed pruned changes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Store, type AnyChange } from '../../../appliance/store/index.js';
import { AuditTrail } from '../../../appliance/audit/index.js';
import { SettingsService } from '../../../appliance/settings/index.js';
import { UserAdminService } from '../../../appliance/access/index.js';
import { TEST_ARGON2, softwareChainKey, strongPassword, tempDir } from '../../helpers/fixtures.js';

const execFileAsync = promisify(execFile);
const WRITER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'feed-writer-child.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const admin = { username: 'admin', ip: '127.0.0.1' };

describe('change feed', () => {
  const tmp = tempDir();
  const sqlitePath = path.join(tmp.dir, 'warden.db');
  let writer: Store;
  let reader: Store;

  before(async () => {
    writer = await Store.open({ sqlitePath });
    // A second connection to the same file: what another process sees.
    reader = await Store.open({ sqlitePath });
  });
  after(async () => {
    await writer?.close();
    await reader?.close();
    tmp.cleanup();
  });

  test('a rolled-back change is never in the feed, not even while its transaction is open', async () => {
    const seen: AnyChange[] = [];
    const follower = await reader.feed.follow({ pollMs: 20, ref: true });
    follower.onAny((c) => void seen.push(c));
    const head = follower.position;
    await assert.rejects(
      writer.transaction(async (repos) => {
        await repos.changes.announce('user.disabled', 'user:1', { userId: 1, username: 'ghost' });
        // The other process polls many times meanwhile: an uncommitted announcement is invisible to it.
        await sleep(300);
        throw new Error('the change fails after its announcement');
      }),
      /fails after/,
    );
    await follower.caughtUp();
    assert.equal(seen.length, 0);
    assert.equal(await reader.feed.head(), head, 'the head moved back with the rollback');
    assert.deepEqual(await reader.feed.read(head), []);

    // The next change takes the very next seq: the rollback left no hole for a follower to wait on.
    await writer.transaction((repos) => repos.changes.announce('user.enabled', 'user:1', { userId: 1, username: 'ghost' }));
    await follower.caughtUp();
    await follower.stop();
    assert.deepEqual(seen.map((c) => [c.seq, c.topic]), [[head + 1, 'user.enabled']]);
  });

  test('a service change that fails to commit (its audit row cannot be written) announces nothing', async () => {
    const goodAudit = new AuditTrail(writer, { key: softwareChainKey() });
    const settings = new SettingsService(writer, goodAudit);
    const users = new UserAdminService({ store: writer, audit: goodAudit, settings, argon2: TEST_ARGON2 });
    const { user } = await users.create(admin, { username: 'victim', fullName: 'V', email: 'v@example.test', profile: 'privileged-access-user', password: strongPassword() });
    const head = await reader.feed.head();
    // The token is gone: the audit row fails inside the transaction, after the announcement was written.
    const noToken = new AuditTrail(writer, { key: { mac: () => { throw new Error('token unavailable'); } } });
    const broken = new UserAdminService({ store: writer, audit: noToken, settings, argon2: TEST_ARGON2 });
    await assert.rejects(broken.setStatus(admin, user.id, 'disabled'));
    assert.equal((await reader.repos.users.byId(user.id))!.status, 'active');
    assert.deepEqual(await reader.feed.read(head), [], 'no user.disabled for a user that was not disabled');
    // Through the working trail the same change lands with its announcement.
    await users.setStatus(admin, user.id, 'disabled');
    assert.deepEqual((await reader.feed.read(head)).map((c) => [c.topic, c.payload]), [['user.disabled', { userId: user.id, username: 'victim' }]]);
  });

  test('announcing outside a transaction is refused: a change and its announcement land together or not at all', async () => {
    await assert.rejects(writer.repos.changes.announce('settings.changed', 'settings', { keys: ['timeZone'] }), /outside a transaction/);
  });

  test('two processes announcing at once: consecutive seqs in commit order, delivered once each, in order', async () => {
    const head = await reader.feed.head();
    const delivered: number[] = [];
    const follower = await reader.feed.follow({ pollMs: 10, batch: 7, ref: true });
    follower.on('session.end-requested', (p, c) => void delivered.push(c.seq));
    const child = execFileAsync(process.execPath, [WRITER, sqlitePath, '60']);
    const mine = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        writer.transaction((repos) => repos.changes.announce('session.end-requested', `parent:${i}`, { sessionId: `parent-${i}`, userId: null, reason: 'test' })),
      ),
    );
    const theirs = JSON.parse((await child).stdout) as number[];
    const expected = Array.from({ length: 120 }, (_, i) => head + 1 + i);
    assert.deepEqual([...mine, ...theirs].sort((x, y) => x - y), expected, 'every seq once, no hole');
    await follower.caughtUp();
    await follower.stop();
    assert.deepEqual(delivered, expected, 'delivered once each, in seq order');
  });

  test('a follower that missed pruned changes is told, so it reloads what it caches', async () => {
    const from = await reader.feed.head();
    for (let i = 0; i < 3; i++) await writer.transaction((repos) => repos.changes.announce('trust.changed', 'trust', { revision: i }));
    assert.ok((await writer.feed.prune(Date.now() + 1)) >= 3);
    assert.deepEqual(await reader.feed.read(0), []);
    await writer.transaction((repos) => repos.changes.announce('trust.changed', 'trust', { revision: 9 }));
    const gaps: [number, number][] = [];
    const seen: number[] = [];
    const follower = await reader.feed.follow({ from, pollMs: 10, ref: true });
    follower.onGap((a, b) => void gaps.push([a, b]));
    follower.on('trust.changed', (p) => void seen.push(p.revision));
    await follower.caughtUp();
    await follower.stop();
    assert.deepEqual(gaps.length, 1);
    assert.equal(gaps[0]![0], from + 1);
    assert.deepEqual(seen, [9]);
  });
});
