// The WAL checkpointer of a long-running process, on a worker thread with its own connection.
// SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, on the committing thread:
// in a daemon that is the event loop, and the checkpoint copies pages and syncs the database file — 10–15 ms
// every hundred logins or so, during which every request waits. Here the checkpoint happens beside the event
// loop instead. PASSIVE never waits for readers or writers; pages it cannot copy yet are copied next time.
// The main connection turns its own automatic checkpoint off only while this worker runs.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

interface CheckpointerData {
  sqlitePath: string;
  intervalMs: number;
}

const { sqlitePath, intervalMs } = workerData as CheckpointerData;
const db = new SQLite(sqlitePath);
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 0');

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // SQLITE_BUSY (another process is checkpointing) or a transient I/O error: the next round tries again.
  }
}

const timer = setInterval(checkpoint, intervalMs);
parentPort!.on('message', (message: unknown) => {
  if (message === 'checkpoint') checkpoint();
  if (message === 'close') {
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort!.close();
  }
});
parentPort!.postMessage('ready');
