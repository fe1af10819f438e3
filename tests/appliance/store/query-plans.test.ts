// The queries that run on every page of the console read through an index, not the whole table: checked in
// SQLite's own query plan (EXPLAIN QUERY PLAN), so a dropped or unused index fails here, not on a large appliance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { CompiledQuery } from 'kysely';
import { Store } from '../../../appliance/store/index.js';
import { tempDir } from '../../helpers/fixtures.js';

test("the approver's inbox reads only pending requests (through an index on status), never the whole history", async () => {
  const tmp = tempDir();
  const store = await Store.open({ sqlitePath: path.join(tmp.dir, 'warden.db') });
  try {
    // The repository's own query (private: the plan of a copy would prove nothing).
    const repo = store.repos.accessRequests as unknown as { pendingForQuery(id: number): { selectAll(t: 'r'): { compile(): CompiledQuery } } };
    const compiled = repo.pendingForQuery(7).selectAll('r').compile();
    const plan = await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${compiled.sql}`, [...compiled.parameters]));
    const details = plan.rows.map((r) => r.detail).join('\n');
    assert.match(details, /SEARCH r USING (COVERING )?INDEX \S+ \(status=\?/, details);
    assert.doesNotMatch(details, /SCAN r\b/, `the requests are not read whole:\n${details}`);
  } finally {
    await store.close();
    tmp.cleanup();
  }
});
