// Another process on the same appliance, as a terminal or RDP proxy will be: it opens only the store and
// follows the change feed. Usage: node feed-child.js SQLITE_PATH. Prints "ready SEQ" once following, then
// one JSON line per change with the time it arrived here (`receivedAt`, ms since the epoch).
import { Store } from '../../appliance/store/index.js';

const store = await Store.open({ sqlitePath: process.argv[2]! });
const follower = await store.feed.follow({ ref: true, onError: (e) => process.stderr.write(`feed error: ${String(e)}\n`) });
follower.onAny((change) => {
  process.stdout.write(JSON.stringify({ ...change, receivedAt: Date.now() }) + '\n');
});
process.stdout.write(`ready ${follower.position}\n`);
process.on('SIGTERM', () => {
  void follower.stop().then(() => store.close()).then(() => process.exit(0));
});
