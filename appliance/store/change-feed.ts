// The change feed: what one process must tell the others (a grant approved, a user disabled, a CA
// inactivated, "end this session"). A change is announced in the transaction that makes it, so a rolled-back
// change is never announced; every process follows the table by `seq > last`, in seq order.
import type { Kysely, Transaction } from 'kysely';
import type { ChangeFeedRow, Database } from './schema.js';

/** Every topic and the shape of its payload: plain ids and values, never a secret. */
export interface ChangeTopics {
  /** An access request was approved (or a break-glass grant taken): `userId` may now reach the target. */
  'grant.approved': { requestId: number; userId: number; deviceId: number; credentialId: number; purpose: string; startsAt: number; endsAt: number; emergency: boolean };
  /** A grant's period ended: live sessions that rest on it must end. */
  'grant.expired': { requestId: number; userId: number; deviceId: number; credentialId: number };
  'user.disabled': { userId: number; username: string };
  'user.enabled': { userId: number; username: string };
  /** Locked by failed attempts: the account's sessions end (the web sessions are already deleted). */
  'user.locked': { userId: number; username: string };
  'user.unlocked': { userId: number; username: string };
  /** The trusted CAs or CRLs changed: re-read them (the TLS context advertises the active CAs). */
  'trust.changed': { revision: number };
  'settings.changed': { keys: string[] };
  /** Sessions must end: one (`sessionId`) or all of a user's (`userId`). */
  'session.end-requested': { sessionId: string | null; userId: number | null; reason: string };
}

export type ChangeTopic = keyof ChangeTopics;

export interface Change<T extends ChangeTopic = ChangeTopic> {
  seq: number;
  topic: T;
  subject: string;
  payload: ChangeTopics[T];
  createdAt: number;
}

/** A change of any topic, as read (a newer version may write topics this one does not know). */
export interface AnyChange {
  seq: number;
  topic: string;
  subject: string;
  payload: unknown;
  createdAt: number;
}

type Db = Kysely<Database> | Transaction<Database>;

function toChange(r: ChangeFeedRow): AnyChange {
  let payload: unknown;
  try {
    payload = JSON.parse(r.payload);
  } catch {
    payload = null;
  }
  return { seq: Number(r.seq), topic: r.topic, subject: r.subject, payload, createdAt: Number(r.created_at) };
}

export class ChangeFeedRepository {
  constructor(
    private readonly db: Db,
    private readonly inTransaction: boolean,
  ) {}

  /**
   * Announce a change in the transaction that makes it. The seq is taken from the head row: the increment
   * holds that row's lock until commit, so no later seq can commit before this one, and a rollback undoes
   * the increment with the row (no gap, nothing announced).
   */
  async announce<T extends ChangeTopic>(topic: T, subject: string, payload: ChangeTopics[T]): Promise<number> {
    // Outside a transaction the announcement could land without its change, or the change without it.
    if (!this.inTransaction) throw new Error(`change ${topic} announced outside a transaction`);
    await this.db.updateTable('change_feed_head').set((eb) => ({ seq: eb('seq', '+', 1) })).where('id', '=', 1).execute();
    const head = await this.db.selectFrom('change_feed_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
    const seq = Number(head.seq);
    await this.db.insertInto('change_feed').values({ seq, topic, subject: subject.slice(0, 128), payload: JSON.stringify(payload), created_at: Date.now() }).execute();
    return seq;
  }

  /** The last seq announced (0: none yet). */
  async head(): Promise<number> {
    const r = await this.db.selectFrom('change_feed_head').select('seq').where('id', '=', 1).executeTakeFirst();
    return Number(r?.seq ?? 0);
  }

  /** Changes after `seq`, oldest first. */
  async after(seq: number, limit: number): Promise<AnyChange[]> {
    const rows = await this.db.selectFrom('change_feed').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map(toChange);
  }

  /** Delete changes announced before `createdBefore`; returns how many. */
  async prune(createdBefore: number): Promise<number> {
    const r = await this.db.deleteFrom('change_feed').where('created_at', '<', createdBefore).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

export type ChangeHandler<T extends ChangeTopic> = (payload: ChangeTopics[T], change: Change<T>) => void | Promise<void>;

export interface FollowOptions {
  /** Deliver changes after this seq; default: from now on (the current head). */
  from?: number;
  /** How often to look for new changes. */
  pollMs?: number;
  /** Rows read per query. */
  batch?: number;
  /** Keep the process alive while following (a daemon has its listeners for that; a helper process may not). */
  ref?: boolean;
  /** A handler or a read failed; following goes on. */
  onError?: (error: unknown, change?: AnyChange) => void;
}

/**
 * One process's reader of the feed: polls `seq > position` (the primary key) and delivers each change to
 * its handlers in seq order, one change at a time (an async handler is awaited before the next change).
 */
export class FeedFollower {
  private readonly handlers = new Map<string, Set<(payload: unknown, change: AnyChange) => void | Promise<void>>>();
  private readonly anyHandlers = new Set<(change: AnyChange) => void | Promise<void>>();
  private readonly gapHandlers = new Set<(missedFrom: number, missedTo: number) => void | Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;
  private wakeups: (() => void)[] = [];

  constructor(
    private readonly repo: ChangeFeedRepository,
    /** The last seq delivered. */
    public position: number,
    private readonly opts: Required<Pick<FollowOptions, 'pollMs' | 'batch' | 'ref'>> & Pick<FollowOptions, 'onError'>,
  ) {
    this.schedule(0);
  }

  /** Handle one topic; returns the way to stop handling it. */
  on<T extends ChangeTopic>(topic: T, handler: ChangeHandler<T>): () => void {
    const set = this.handlers.get(topic) ?? new Set();
    this.handlers.set(topic, set);
    const h = handler as unknown as (payload: unknown, change: AnyChange) => void | Promise<void>;
    set.add(h);
    return () => set.delete(h);
  }

  /** Every change, whatever its topic. */
  onAny(handler: (change: AnyChange) => void | Promise<void>): () => void {
    this.anyHandlers.add(handler);
    return () => this.anyHandlers.delete(handler);
  }

  /**
   * Changes were pruned before this follower read them (it was stopped longer than the feed keeps them):
   * whoever caches state must reload it.
   */
  onGap(handler: (missedFrom: number, missedTo: number) => void | Promise<void>): () => void {
    this.gapHandlers.add(handler);
    return () => this.gapHandlers.delete(handler);
  }

  /** Resolves after the next poll has delivered everything committed before it started. */
  caughtUp(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeups.push(resolve);
      if (!this.polling) this.schedule(0);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    for (const w of this.wakeups.splice(0)) w();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.schedule(this.opts.pollMs);
      });
    }, ms);
    if (!this.opts.ref) this.timer.unref();
  }

  private async poll(): Promise<void> {
    const waiting = this.wakeups.splice(0);
    try {
      for (;;) {
        const changes = await this.repo.after(this.position, this.opts.batch);
        for (const c of changes) {
          if (this.stopped) return;
          // Seqs have no holes (see announce): a jump means the rows in between were pruned unread.
          if (c.seq > this.position + 1) await this.call(() => [...this.gapHandlers].map((h) => h(this.position + 1, c.seq - 1)));
          await this.deliver(c);
          this.position = c.seq;
        }
        if (changes.length < this.opts.batch) break;
      }
    } catch (e) {
      this.report(e);
    } finally {
      for (const w of waiting) w();
    }
  }

  private async deliver(c: AnyChange): Promise<void> {
    await this.call(() => [...(this.handlers.get(c.topic) ?? [])].map((h) => h(c.payload, c)), c);
    await this.call(() => [...this.anyHandlers].map((h) => h(c)), c);
  }

  private async call(start: () => (void | Promise<void>)[], c?: AnyChange): Promise<void> {
    let results: (void | Promise<void>)[];
    try {
      results = start();
    } catch (e) {
      this.report(e, c);
      return;
    }
    for (const r of await Promise.allSettled(results)) if (r.status === 'rejected') this.report(r.reason, c);
  }

  private report(e: unknown, c?: AnyChange): void {
    try {
      this.opts.onError?.(e, c);
    } catch {
      // A failing error reporter must not stop the feed.
    }
  }
}

/** The feed over one store: read, follow, prune. */
export class ChangeFeed {
  constructor(private readonly repo: ChangeFeedRepository) {}

  head(): Promise<number> {
    return this.repo.head();
  }

  read(afterSeq: number, limit = 500): Promise<AnyChange[]> {
    return this.repo.after(afterSeq, limit);
  }

  /** Follow from `from` (default: the current head, i.e. changes from now on). */
  async follow(opts: FollowOptions = {}): Promise<FeedFollower> {
    const from = opts.from ?? (await this.repo.head());
    return new FeedFollower(this.repo, from, { pollMs: opts.pollMs ?? 200, batch: opts.batch ?? 500, ref: opts.ref ?? false, ...(opts.onError ? { onError: opts.onError } : {}) });
  }

  prune(createdBefore: number): Promise<number> {
    return this.repo.prune(createdBefore);
  }
}
