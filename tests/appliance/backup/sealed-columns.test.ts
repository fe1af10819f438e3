// The master key rotation re-wraps every sealed value it knows of (appliance/backup/key-rotation.ts): a sealed
// column it does not know keeps values under a key the rotation destroys. Every `*_sealed` column of the schema
// (and the known sealed rows of appliance_meta) must be on its list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sql } from 'kysely';
import { Store } from '../../../appliance/store/index.js';
import { SEALED_COLUMNS } from '../../../appliance/backup/index.js';
import { tempDir } from '../../helpers/fixtures.js';

test('every sealed column of the schema is re-wrapped by the master key rotation', async () => {
  const tmp = tempDir();
  const store = await Store.open({ sqlitePath: path.join(tmp.dir, 'w.db') });
  try {
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'`.execute(store.db);
    const sealed: string[] = [];
    for (const { name } of tables.rows) {
      const columns = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${name})`.execute(store.db);
      for (const c of columns.rows) if (/sealed$/.test(c.name)) sealed.push(`${name}.${c.name}`);
    }
    assert.ok(sealed.includes('credential_versions.secret_sealed'), `the scan sees the columns: ${sealed.join(', ')}`);
    const known = new Set(SEALED_COLUMNS.map((s) => `${s.table}.${s.column}`));
    assert.deepEqual(sealed.filter((c) => !known.has(c)), []);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});
