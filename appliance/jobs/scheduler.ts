// Every process that may run periodic work starts a scheduler with the same jobs; a job runs where its lease
// was taken. A holder renews the lease while the job runs and frees it when the run ends; a holder that
// dies leaves a lease that expires, and another process takes the job over. The lease is a row in the
// store, taken by one conditional statement, so it holds across processes (and, on a shared database,
// across appliances; their clocks must then agree to well within the lease time).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import { logger } from '../log/index.js';

const log = logger('jobs');

export interface Job {
  /** Unique per appliance: the lease row's key. */
  name: string;
  /** Milliseconds between the starts of two runs; null: off for now. Read at every tick (settings may change it). */
  interval: number | (() => number | null | Promise<number | null>);
  /** The work. `signal` aborts when the lease is lost or the scheduler stops: stop soon, write nothing more. */
  run: (signal: AbortSignal) => Promise<unknown>;
}

export interface JobSchedulerOptions {
  store: Store;
  /** Who holds a lease: unique per process. Default: host, pid and a random tag. */
  holder?: string;
  /** How often due jobs are looked for. */
  tickMs?: number;
  /** How long a lease lasts unless renewed (renewed every third of it while the job runs). */
  leaseMs?: number;
  clock?: () => number;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export class JobScheduler {
  readonly holder: string;
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Map<string, Running>();
  private readonly tickMs: number;
  private readonly leaseMs: number;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly opts: JobSchedulerOptions) {
    this.holder = (opts.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`).slice(0, 128);
    this.tickMs = opts.tickMs ?? 500;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.clock = opts.clock ?? Date.now;
  }

  add(job: Job): this {
    if (this.jobs.has(job.name)) throw new Error(`job ${job.name} added twice`);
    this.jobs.set(job.name, job);
    return this;
  }

  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    this.schedule(0);
    return this;
  }

  /** Is `name` running in this process now? */
  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /**
   * Stop taking jobs, abort the running ones and wait for them (at most `graceMs`), then free their
   * leases. A job that does not finish in time keeps its lease until it expires, so nobody runs it twice.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    for (const r of this.running.values()) r.controller.abort(new Error('scheduler stopping'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.running.values()].map((r) => r.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.tickMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** Take the lease of each due job nobody holds, and run it. */
  private async tick(): Promise<void> {
    try {
      const repo = this.opts.store.repos.jobLeases;
      // One read for all jobs; a conditional write only for those that look due and free.
      const leases = new Map((await repo.all()).map((l) => [l.name, l]));
      for (const job of this.jobs.values()) {
        if (this.stopped) return;
        if (this.running.has(job.name)) continue;
        const intervalMs = typeof job.interval === 'number' ? job.interval : await job.interval();
        if (intervalMs === null) continue;
        const now = this.clock();
        const lease = leases.get(job.name);
        if (lease && (Number(lease.expires_at) > now || Number(lease.last_started_at) > now - intervalMs)) continue;
        if (await repo.claim(job.name, this.holder, { now, leaseMs: this.leaseMs, intervalMs })) this.launch(job);
      }
    } catch (e) {
      log.warn('job scheduling failed', { error: e });
    }
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const repo = this.opts.store.repos.jobLeases;
    const renewal = setInterval(() => {
      repo
        .renew(job.name, this.holder, { now: this.clock(), leaseMs: this.leaseMs })
        .then((held) => {
          if (!held) controller.abort(new Error(`lease of job ${job.name} lost`));
        })
        .catch((e: unknown) => log.warn('job lease renewal failed', { job: job.name, error: e }));
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    renewal.unref();
    const done = (async () => {
      try {
        await job.run(controller.signal);
      } catch (e) {
        log.warn('job failed', { job: job.name, error: e });
      } finally {
        clearInterval(renewal);
        try {
          await repo.release(job.name, this.holder);
        } catch (e) {
          // The lease then expires by itself.
          log.warn('job lease release failed', { job: job.name, error: e });
        }
        this.running.delete(job.name);
      }
    })();
    this.running.set(job.name, { controller, done });
  }
}
