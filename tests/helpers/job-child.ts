// A scheduler in its own process, for tests that kill it while it holds a job's lease.
// Usage: node job-child.js SQLITE_PATH LEASE_MS. Runs the job "hang" (which never ends) and prints
// "started AT" when it starts.
import { Store } from '../../appliance/store/index.js';
import { JobScheduler } from '../../appliance/jobs/index.js';

const store = await Store.open({ sqlitePath: process.argv[2]! });
const scheduler = new JobScheduler({ store, holder: 'child', tickMs: 50, leaseMs: Number(process.argv[3] ?? 600) });
scheduler.add({
  name: 'hang',
  interval: 0,
  run: () => {
    process.stdout.write(`started ${Date.now()}\n`);
    return new Promise(() => undefined);
  },
});
scheduler.start();
// The scheduler's timers do not hold a process open; this one is killed by the test.
setInterval(() => undefined, 1000);
