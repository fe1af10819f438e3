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
    // Four times the pool's threads. libuv's queue is first in, first out: without a bound every thread is hashing
    // and the sync, queued last, starts only when HASHES - 3 hashes have finished, so it can never finish earlier
    // than that. With the bound it starts at once on the free thread; how long it then takes depends on the disk
    // and the machine's load (a busy CI runner has seen one hash finish first), so the test asks only that it beat
    // the FIFO bound, not that it come first.
    const HASHES = 16;
    const hashes = Array.from({ length: HASHES }, (_, i) => verifyPassword('Wrong-Password-1', stored).then(() => void order.push(`hash${i}`)));
    const sync = new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))).then(() => void order.push('sync'));
    await Promise.all([...hashes, sync]);
    assert.ok(order.indexOf('sync') < HASHES - 3, `completion order: ${order.join(' ')}`);
  } finally {
    closeSync(fd);
    tmp.cleanup();
  }
});
