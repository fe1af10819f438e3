// A login must run at the speed of its hash. A durable commit waits for a flush of the WAL to disk (off the event
// loop, shared with other commits); a login makes two commits — the reservations before the hash, which do not
// wait, and the admission (or the failure's audit event) after it, which does — and an unknown user as many as
// a known one. Counted on the real WAL file: each commit ends with one commit frame.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { services, strongPassword, type Services } from '../../helpers/fixtures.js';

/** Commit frames in the current WAL generation (frames whose salts match the header; a frame with a size is a commit). */
function walCommits(dbFile: string): number {
  let wal: Buffer;
  try {
    wal = readFileSync(`${dbFile}-wal`);
  } catch {
    return 0;
  }
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const [salt1, salt2] = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
    if (wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break;
    if (wal.readUInt32BE(off + 4) !== 0) commits++;
  }
  return commits;
}

describe('commits per login', () => {
  let s: Services;
  let dbFile: string;
  let username: string;
  let password: string;

  before(async () => {
    s = await services();
    await s.settings.update({ loginThrottle: { maxFailures: 10_000 } }, 'root-admin', null);
    const rows = await sql<{ name: string; file: string }>`pragma database_list`.execute(s.store.db);
    dbFile = rows.rows.find((r) => r.name === 'main')!.file;
    username = 'commits';
    password = strongPassword();
    const { user } = await s.users.create({ username: 'root-admin', ip: null }, { username, fullName: 'Commit Counter', profile: 'privileged-access-user', password });
    await s.store.repos.users.update(user.id, { must_change_password: false });
    // A first login from each address creates its throttle row: the counts below are for the steady state.
    for (const ip of ['192.0.2.10', '192.0.2.11', '192.0.2.12']) await s.auth.login({ username, password, ip });
  });
  after(async () => s.close());

  /**
   * Commits on the WAL, and how many transactions through Store.transaction asked to skip their fsync (every
   * other commit, including the audit trail's own, is durable).
   */
  async function commitsOf(attempt: () => Promise<unknown>): Promise<{ commits: number; withoutFsync: number }> {
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(s.store.db);
    assert.equal(walCommits(dbFile), 0);
    let withoutFsync = 0;
    const original = s.store.transaction.bind(s.store);
    s.store.transaction = ((fn, opts) => {
      if (opts?.durable === false) withoutFsync++;
      return original(fn, opts);
    }) as typeof s.store.transaction;
    try {
      await attempt().catch(() => undefined);
    } finally {
      s.store.transaction = original;
    }
    return { commits: walCommits(dbFile), withoutFsync };
  }

  test('a successful password login commits twice: its reservations without fsync, then its admission', async () => {
    assert.deepEqual(await commitsOf(() => s.auth.login({ username, password, ip: '192.0.2.10' })), { commits: 2, withoutFsync: 1 });
  });

  test('an unknown user commits as often as a known one', async () => {
    assert.deepEqual(await commitsOf(() => s.auth.login({ username: 'nobody-here', password, ip: '192.0.2.11' })), { commits: 2, withoutFsync: 1 });
  });

  test('no audit event rides a commit without fsync: a lock lifted at login is audited in a durable commit', async () => {
    const user = (await s.store.repos.users.byUsername(username))!;
    await s.store.repos.users.update(user.id, { locked_at: s.clock.now - 24 * 3_600_000, failed_attempts: 5 });
    let auditedWithoutFsync = 0;
    const original = s.store.transaction.bind(s.store);
    s.store.transaction = ((fn, opts) =>
      original((repos) => {
        // An audit event in a transaction queues its publication (the anchor) for after the commit.
        if (opts?.durable === false) {
          const queue = repos.afterCommit.bind(repos);
          repos.afterCommit = (f) => {
            auditedWithoutFsync++;
            queue(f);
          };
        }
        return fn(repos);
      }, opts)) as typeof s.store.transaction;
    try {
      await s.auth.login({ username, password, ip: '192.0.2.10' });
    } finally {
      s.store.transaction = original;
    }
    const [unlock] = await s.store.repos.auditEvents.query({ type: 'auth.unlock', limit: 1 });
    assert.equal(unlock?.subject, username, 'the lift was audited');
    assert.equal(auditedWithoutFsync, 0);
  });

  test('a wrong password commits as often as a right one', async () => {
    assert.deepEqual(await commitsOf(() => s.auth.login({ username, password: 'Wrong-Password-1', ip: '192.0.2.12' })), { commits: 2, withoutFsync: 1 });
  });
});
