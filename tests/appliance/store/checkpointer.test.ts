// The daemons' WAL checkpointer: with `backgroundCheckpoint`, no commit checkpoints on the event loop (the
// WAL grows past SQLite's automatic threshold while the worker waits), the worker keeps the WAL bounded
// when it runs, and closing the store checkpoints what is left.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { Store } from '../../../appliance/store/index.js';
import { tempDir } from '../../helpers/fixtures.js';

/** ~2 pages per commit (the row and the index), each a separate WAL frame set: 1,500 commits pass 1,000 pages. */
async function writeMany(store: Store, commits: number): Promise<void> {
  const filler = 'x'.repeat(3000);
  for (let i = 0; i < commits; i++) {
    await store.transaction(async (repos) => repos.meta.set(`bench.${i % 50}`, `${filler}${i}`), { durable: false });
  }
}

const walSize = (file: string) => statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
const AUTOCHECKPOINT_BYTES = 1000 * 4096;

describe('WAL checkpoints beside the event loop', () => {
  test('a commit never checkpoints: with the worker idle, the WAL passes the automatic threshold; closing checkpoints it', async () => {
    const tmp = tempDir('warden-ckpt-');
    try {
      const file = path.join(tmp.dir, 'w.sqlite');
      const store = await Store.open({ sqlitePath: file, backgroundCheckpoint: true, checkpointIntervalMs: 3_600_000 });
      await writeMany(store, 1500);
      assert.ok(walSize(file) > AUTOCHECKPOINT_BYTES, `WAL ${walSize(file)} bytes: a commit checkpointed`);
      await store.close();
      const reopened = await Store.open({ sqlitePath: file });
      assert.equal(await reopened.repos.meta.get('bench.49'), `${'x'.repeat(3000)}1499`);
      await reopened.close();
    } finally {
      tmp.cleanup();
    }
  });

  test('the worker keeps the WAL bounded while commits run', async () => {
    const tmp = tempDir('warden-ckpt-');
    try {
      const file = path.join(tmp.dir, 'w.sqlite');
      const store = await Store.open({ sqlitePath: file, backgroundCheckpoint: true, checkpointIntervalMs: 20 });
      // The WAL file keeps its largest size: in rounds of 250 commits (~2 MB), one round that a loaded machine
      // runs with no checkpoint in it still stays under the bound; none at all would pass it six times over.
      for (let round = 0; round < 12; round++) {
        await writeMany(store, 250);
        await new Promise((r) => setTimeout(r, 60));
      }
      // 3,000 commits without any checkpoint would leave a WAL of ~6,000 pages (24 MB).
      assert.ok(walSize(file) < AUTOCHECKPOINT_BYTES, `WAL ${walSize(file)} bytes: the worker did not checkpoint`);
      await store.close();
    } finally {
      tmp.cleanup();
    }
  });

  test('without the option, SQLite checkpoints in commits as before (short-lived tools)', async () => {
    const tmp = tempDir('warden-ckpt-');
    try {
      const file = path.join(tmp.dir, 'w.sqlite');
      const store = await Store.open({ sqlitePath: file });
      await writeMany(store, 3000);
      assert.ok(walSize(file) < 2 * AUTOCHECKPOINT_BYTES, `WAL ${walSize(file)} bytes`);
      await store.close();
    } finally {
      tmp.cleanup();
    }
  });
});
