import { createHash } from 'node:crypto';
import { Repositories, type AuditEventRow, type Store } from '../store/index.js';
import { redact } from '../log/index.js';
import { WardenError } from '../errors/index.js';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditOutcome = 'success' | 'failure' | 'info';

export interface AuditEvent {
  /** Dotted kind, e.g. "auth.login", "user.create". */
  type: string;
  outcome: AuditOutcome;
  /** Who acted (user name, "orbit", "system"). */
  actor?: string | null;
  actorIp?: string | null;
  /** What it acted on (a user name, a setting key...). */
  subject?: string | null;
  /** The precise reason code for failures (AUTH_BAD_PASSWORD, ...). */
  code?: string | null;
  detail?: Record<string, unknown>;
}

export type ChainVerdict =
  | { ok: true; rows: number; lastSeq: number }
  | { ok: false; rows: number; brokenSeq: number; reason: string };

/** The hash of a row covers every column but the hash itself, in a fixed order. */
export function hashAuditRow(row: Omit<AuditEventRow, 'hash'>): string {
  const canonical = JSON.stringify([
    row.seq,
    row.ts,
    row.type,
    row.outcome,
    row.actor,
    row.actor_ip,
    row.subject,
    row.code,
    row.detail,
    row.prev_hash,
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

function isWriteRace(e: unknown): boolean {
  const msg = String((e as Error)?.message ?? '');
  const code = String((e as { code?: unknown })?.code ?? '');
  return /UNIQUE|PRIMARY|Duplicate entry/i.test(msg) || code.startsWith('SQLITE_BUSY') || code === 'ER_DUP_ENTRY';
}

type Listener = (row: AuditEventRow) => void;

export class AuditTrail {
  private readonly listeners: Listener[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Live export hooks (syslog/CEF exporters subscribe here). A failing listener never blocks the trail. */
  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Append one event. Inside `repos` (an open transaction) it lands with the change it describes and is
   * published to the exporters once that transaction commits; alone it opens its own transaction and
   * retries if another writer took the same place in the chain.
   */
  async record(event: AuditEvent, repos?: Repositories): Promise<AuditEventRow> {
    const row = repos ? await this.appendIn(repos, event) : await this.appendAlone(event);
    if (repos) repos.afterCommit(() => this.publish(row));
    else this.publish(row);
    return row;
  }

  /** Run `fn` in one transaction together with the event describing it: both land, or neither. */
  async withChange<T>(event: AuditEvent, fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.store.transaction(async (repos) => {
      const result = await fn(repos);
      await this.record(event, repos);
      return result;
    });
  }

  private publish(row: AuditEventRow): void {
    for (const l of this.listeners) {
      try {
        l(row);
      } catch {
        // An exporter's failure is its own to report; the row is already safe in the store.
      }
    }
  }

  private async appendAlone(event: AuditEvent): Promise<AuditEventRow> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.db.transaction().execute((trx) => this.appendIn(new Repositories(trx), event));
      } catch (e) {
        if (attempt < 8 && isWriteRace(e)) {
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        throw new WardenError('STORE_UNAVAILABLE', `audit event could not be written: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  private async appendIn(repos: Repositories, event: AuditEvent): Promise<AuditEventRow> {
    const last = await repos.auditEvents.last();
    const base = {
      seq: (last ? Number(last.seq) : 0) + 1,
      ts: this.clock(),
      type: event.type,
      outcome: event.outcome,
      actor: event.actor ?? null,
      actor_ip: event.actorIp ?? null,
      subject: event.subject ?? null,
      code: event.code ?? null,
      detail: JSON.stringify(redact(event.detail ?? {})),
      prev_hash: last?.hash ?? GENESIS_HASH,
    };
    const row: AuditEventRow = { ...base, hash: hashAuditRow(base) };
    await repos.auditEvents.insert(row);
    return row;
  }

  /** Walk the whole chain in order; report the first row whose link or content does not hold. */
  async verify(pageSize = 1000): Promise<ChainVerdict> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let rows = 0;
    for (;;) {
      const page = await this.store.repos.auditEvents.page(expectedSeq - 1, pageSize);
      if (page.length === 0) break;
      for (const row of page) {
        const seq = Number(row.seq);
        if (seq !== expectedSeq) return { ok: false, rows, brokenSeq: expectedSeq, reason: `row ${expectedSeq} is missing (next is ${seq})` };
        if (row.prev_hash !== prevHash) return { ok: false, rows, brokenSeq: seq, reason: 'link to the previous row does not match' };
        const { hash, ...rest } = row;
        if (hashAuditRow({ ...rest, seq, ts: Number(row.ts) }) !== hash) {
          return { ok: false, rows, brokenSeq: seq, reason: 'row content does not match its hash' };
        }
        prevHash = hash;
        expectedSeq++;
        rows++;
      }
    }
    return { ok: true, rows, lastSeq: expectedSeq - 1 };
  }
}
