// The job scheduler over a real SQLite file: schedulers in different processes (here: different
// connections and holders, and a child process) never run one job at once; a lease that its holder stops
// renewing (the process died) expires, and another scheduler takes the job over.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../../appliance/store/index.js';
import { JobScheduler } from '../../../appliance/jobs/index.js';
import { tempDir } from '../../helpers/fixtures.js';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'job-child.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('job scheduler', () => {
  const tmp = tempDir();
  const sqlitePath = path.join(tmp.dir, 'warden.db');
  let one: Store;
  let two: Store;

  before(async () => {
    one = await Store.open({ sqlitePath });
    two = await Store.open({ sqlitePath });
  });
  after(async () => {
    await one?.close();
    await two?.close();
    tmp.cleanup();
  });

  test('two schedulers never run the same job at once, and the interval holds between runs wherever they ran', async () => {
    let inside = 0;
    let overlaps = 0;
    const runs: { holder: string; claimedAt: number; start: number; end: number }[] = [];
    const job = (holder: string, store: Store) => ({
      name: 'busy',
      // Runs last longer than the interval: only the lease keeps a second scheduler out.
      interval: 30,
      run: async () => {
        inside++;
        if (inside > 1) overlaps++;
        const start = Date.now();
        const lease = (await store.repos.jobLeases.get('busy'))!;
        assert.equal(lease.holder, holder);
        await sleep(40 + Math.random() * 60);
        runs.push({ holder, claimedAt: Number(lease.last_started_at), start, end: Date.now() });
        inside--;
      },
    });
    const a = new JobScheduler({ store: one, holder: 'a', tickMs: 7, leaseMs: 5000 }).add(job('a', one)).start();
    const b = new JobScheduler({ store: two, holder: 'b', tickMs: 11, leaseMs: 5000 }).add(job('b', two)).start();
    await sleep(2500);
    await Promise.all([a.stop(), b.stop()]);
    assert.equal(overlaps, 0);
    assert.ok(runs.length >= 10, `ran ${runs.length} times`);
    runs.sort((x, y) => x.start - y.start);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(runs[i]!.start >= runs[i - 1]!.end, `run ${i} started before run ${i - 1} ended`);
      assert.ok(runs[i]!.claimedAt - runs[i - 1]!.claimedAt >= 30, `run ${i} was taken ${runs[i]!.claimedAt - runs[i - 1]!.claimedAt} ms after the previous one`);
    }
    console.log(`runs: a ${runs.filter((r) => r.holder === 'a').length}, b ${runs.filter((r) => r.holder === 'b').length}`);
  });

  test('of many processes asking at once, one takes a free lease; nobody takes a held one', async () => {
    const now = Date.now();
    assert.equal(await one.repos.jobLeases.claim('race', 'first', { now, leaseMs: 1000, intervalMs: 0 }), false, 'first sight only registers');
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).repos.jobLeases.claim('race', `h${i}`, { now: now + 1, leaseMs: 1000, intervalMs: 0 })));
    assert.equal(claims.filter(Boolean).length, 1);
    const holder = (await one.repos.jobLeases.get('race'))!.holder;
    assert.equal(holder, `h${claims.indexOf(true)}`);
    assert.equal(await two.repos.jobLeases.claim('race', 'late', { now: now + 999, leaseMs: 1000, intervalMs: 0 }), false, 'held until it expires');
    assert.equal(await two.repos.jobLeases.renew('race', 'late', { now: now + 999, leaseMs: 1000 }), false, 'only the holder renews');
    assert.equal(await two.repos.jobLeases.claim('race', 'late', { now: now + 1001, leaseMs: 1000, intervalMs: 0 }), true, 'taken once expired');
    assert.equal(await one.repos.jobLeases.renew('race', holder, { now: now + 1002, leaseMs: 1000 }), false, 'the old holder learns it lost the lease');
  });

  test('a job seen for the first time runs one interval later, not at once', async () => {
    const starts: number[] = [];
    const t0 = Date.now();
    const s = new JobScheduler({ store: one, tickMs: 10 }).add({ name: 'fresh', interval: 300, run: async () => void starts.push(Date.now()) }).start();
    await sleep(500);
    await s.stop();
    assert.equal(starts.length, 1);
    assert.ok(starts[0]! - t0 >= 290, `first run after ${starts[0]! - t0} ms`);
  });

  test('an interval of null keeps the job off; the interval is read again at every tick', async () => {
    let on = false;
    let ran = 0;
    const s = new JobScheduler({ store: one, tickMs: 10 }).add({ name: 'switch', interval: () => (on ? 0 : null), run: async () => void ran++ }).start();
    await sleep(150);
    assert.equal(ran, 0);
    on = true;
    // Waits for the run rather than a fixed time: a loaded machine may take a while to reach the next tick.
    for (const deadline = Date.now() + 5000; ran === 0 && Date.now() < deadline; ) await sleep(10);
    await s.stop();
    assert.ok(ran > 0, 'the job ran once its interval was no longer null');
  });

  test('the holder renews its lease while the job runs; once it dies the lease expires and another process takes the job over', async () => {
    const leaseMs = 600;
    const child = spawn(process.execPath, [CHILD, sqlitePath, String(leaseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child never started the job:\n${out}`)), 10_000);
        child.stdout.on('data', () => /started \d+/.test(out) && (clearTimeout(timer), resolve()));
      });
      const starts: number[] = [];
      const b = new JobScheduler({ store: one, holder: 'b', tickMs: 20, leaseMs }).add({ name: 'hang', interval: 0, run: async () => void starts.push(Date.now()) }).start();
      try {
        // Three lease times: the child's renewals keep the job its own.
        await sleep(3 * leaseMs);
        assert.deepEqual(starts, [], 'taken while its holder was alive and renewing');
        assert.equal((await one.repos.jobLeases.get('hang'))!.holder, 'child');
        child.kill('SIGKILL');
        await exited;
        const expiresAt = Number((await one.repos.jobLeases.get('hang'))!.expires_at);
        for (let i = 0; i < 100 && starts.length === 0; i++) await sleep(20);
        assert.ok(starts.length > 0, 'taken over');
        assert.ok(starts[0]! >= expiresAt, `taken ${expiresAt - starts[0]!} ms before the lease expired`);
        assert.ok(starts[0]! - expiresAt < 500, `taken over ${starts[0]! - expiresAt} ms after the lease expired`);
      } finally {
        await b.stop();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
