import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fdatasync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { hashPassword, verifyPassword } from '../../../appliance/auth/index.js';
import { DEFAULT_ARGON2 } from '../../../appliance/config/index.js';
import { tempDir } from '../../helpers/fixtures.js';

// Hashes and the WAL flush share libuv's thread pool (4 threads here: the test runs without UV_THREADPOOL_SIZE).
test('a burst of password hashes leaves a thread-pool thread free: a file sync is not queued behind them', async () => {
  assert.equal(process.env.UV_THREADPOOL_SIZE, undefined);
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'f');
  writeFileSync(file, 'x');
  const fd = openSync(file, 'r');
  try {
    const stored = await hashPassword('Some-Password-1', DEFAULT_ARGON2);
    const order: string[] = [];
    // Twice the pool's threads: without a bound, every thread is hashing and the sync waits for five hashes.
    const hashes = Array.from({ length: 8 }, (_, i) => verifyPassword('Wrong-Password-1', stored).then(() => void order.push(`hash${i}`)));
    const sync = new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))).then(() => void order.push('sync'));
    await Promise.all([...hashes, sync]);
    assert.equal(order[0], 'sync', `completion order: ${order.join(' ')}`);
  } finally {
    closeSync(fd);
    tmp.cleanup();
  }
});
