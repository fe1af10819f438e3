// Another process announcing changes at the same time as the test: usage node feed-writer-child.js
// SQLITE_PATH COUNT. Prints the seqs it was given, as one JSON array.
import { Store } from '../../appliance/store/index.js';

const store = await Store.open({ sqlitePath: process.argv[2]! });
const count = Number(process.argv[3] ?? 40);
const seqs = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    store.transaction((repos) => repos.changes.announce('session.end-requested', `child:${i}`, { sessionId: `child-${i}`, userId: null, reason: 'test' })),
  ),
);
process.stdout.write(JSON.stringify(seqs) + '\n');
await store.close();
