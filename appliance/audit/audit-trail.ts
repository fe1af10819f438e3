import { timingSafeEqual } from 'node:crypto';
import { Repositories, type AuditEventRow, type Store } from '../store/index.js';
import { logger, redact } from '../log/index.js';
import { WardenError } from '../errors/index.js';
import type { KeyService } from '../keys/index.js';
import type { AuditAnchor } from './anchor.js';
import { classifyAuditRow, detailProblems, isAuditEventType, type AuditDetail, type AuditEventType, type Severity } from './event-types.js';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditOutcome = 'success' | 'failure' | 'info';

interface AuditEventFields {
  outcome: AuditOutcome;
  /** Who acted (user name, "orbit", "system"). */
  actor?: string | null;
  actorIp?: string | null;
  /** What it acted on (a user name, a setting key...). */
  subject?: string | null;
  /** The precise reason code for failures (AUTH_BAD_PASSWORD, ...). */
  code?: string | null;
}

/** The detail member: required when the catalogue declares a field that must be present, optional otherwise. */
export type AuditDetailMember<T extends AuditEventType> = {} extends AuditDetail<T> ? { detail?: AuditDetail<T> } : { detail: AuditDetail<T> };

/**
 * One event of a declared type (appliance/audit/event-types.ts), its detail checked against that type's
 * declaration. A union over the types, so a literal `type` picks the detail it is checked against.
 */
export type AuditEvent<T extends AuditEventType = AuditEventType> = {
  [K in T]: AuditEventFields & { type: K } & AuditDetailMember<K>;
}[T];

/** An event as the row writer takes it: loosely typed, since a cast or plain JS can get this far; refuseUnlessDeclared checks it. */
type UncheckedEvent = AuditEventFields & { type: string; detail?: object };

/** An event less the members a helper fills in itself (outcome, actor...), still checked type by type. */
export type AuditEventWithout<M extends keyof AuditEventFields, T extends AuditEventType = AuditEventType> = AuditEvent<T> extends infer E ? (E extends unknown ? Omit<E, M> : never) : never;

export type ChainVerdict =
  /** `nodes`: how many rows each cluster node wrote ('' for rows written before node ids). */
  | { ok: true; rows: number; lastSeq: number; anchors: number; nodes: Record<string, number> }
  | { ok: false; rows: number; brokenSeq: number; reason: string };

/**
 * The secret that keys the chain: HMAC-SHA256 under a key that never leaves the token, so re-computing a
 * row's link needs the token, not just write access to the database.
 */
export interface ChainKey {
  mac(data: Buffer): Buffer;
}

/** The chain key on the PKCS#11 token (CKM_SHA256_HMAC); `keys` throws KEYS_UNAVAILABLE without a token. */
export function tokenChainKey(keys: () => KeyService): ChainKey {
  return { mac: (data) => keys().auditMac(data) };
}

/** The link of a row covers every column but the link itself, in a fixed order. */
export function hashAuditRow(key: ChainKey, row: Omit<AuditEventRow, 'hash'>): string {
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
    // Only rows that carry a node id cover it: rows written before node ids keep the link they were given.
    ...(row.node_id ? [row.node_id] : []),
  ]);
  return key.mac(Buffer.from(canonical, 'utf8')).toString('hex');
}

function sameLink(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The compiler holds typed callers to the catalogue; this holds a cast or a plain-JS caller to it too, so an
 * export or a report never meets a row this release cannot classify.
 */
function refuseUnlessDeclared(event: UncheckedEvent): void {
  if (!isAuditEventType(event.type)) throw new WardenError('INPUT_INVALID', `audit event type ${JSON.stringify(String(event.type).slice(0, 64))} is not declared in the catalogue`);
  const problems = detailProblems(event.type, event.detail);
  // Field names only: a value may be a secret that was never meant to be there.
  if (problems.length > 0) throw new WardenError('INPUT_INVALID', `audit event ${event.type} does not match its declaration: ${problems.join('; ')}`);
}

type Listener = (row: AuditEventRow) => void;

export interface AuditEventFilter {
  type?: string;
  /** The acting user's name, exactly. */
  actor?: string;
  subject?: string;
  /** Only rows older than this sequence number (the next page of a newest-first reading). */
  beforeSeq?: number;
  /** epoch-ms: from `since` (inclusive) to `until` (exclusive) */
  since?: number;
  until?: number;
  limit: number;
}

/** One audit row as an auditor reads it: times as ISO 8601, the detail parsed. */
export interface AuditEventView {
  seq: AuditEventRow['seq'];
  at: string;
  type: string;
  outcome: AuditEventRow['outcome'];
  actor: AuditEventRow['actor'];
  actorIp: AuditEventRow['actor_ip'];
  subject: AuditEventRow['subject'];
  code: AuditEventRow['code'];
  /** The event type's stable code and severity from the catalogue (null for a type this release does not know). */
  eventCode: string | null;
  severity: Severity | null;
  detail: unknown;
  hash: string;
}

export interface AuditTrailOptions {
  key: ChainKey;
  clock?: () => number;
  /** Where the chain head is copied outside the database; absent: no anchor (unit tests). */
  anchor?: AuditAnchor;
  /** This appliance's node id (config `node.id`), written into every row it appends. */
  node?: string;
}

function viewOf(r: AuditEventRow): AuditEventView {
  return {
    seq: r.seq,
    at: new Date(r.ts).toISOString(),
    type: r.type,
    outcome: r.outcome,
    actor: r.actor,
    actorIp: r.actor_ip,
    subject: r.subject,
    code: r.code,
    // From the catalogue by type and outcome (the type is under the keyed chain); `code` stays the reason.
    ...classifyAuditRow(r),
    detail: JSON.parse(r.detail) as unknown,
    hash: r.hash,
  };
}

const AUDIT_CSV_COLUMNS = ['seq', 'at', 'type', 'event_code', 'severity', 'outcome', 'actor', 'actor_ip', 'subject', 'code', 'detail', 'hash'];

/**
 * One CSV field (RFC 4180 quoting); a leading = + - @ is neutralized so a spreadsheet never runs it as a
 * formula (CSV injection). Every CSV export of the appliance's records quotes through this.
 */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function auditCsvLine(e: AuditEventView): string {
  return `${[e.seq, e.at, e.type, e.eventCode, e.severity, e.outcome, e.actor, e.actorIp, e.subject, e.code, JSON.stringify(e.detail), e.hash].map(csvField).join(',')}\r\n`;
}

export class AuditTrail {
  private readonly listeners: Listener[] = [];
  private readonly key: ChainKey;
  private readonly clock: () => number;
  readonly anchor: AuditAnchor | undefined;
  private readonly node: string | null;

  constructor(
    private readonly store: Store,
    options: AuditTrailOptions,
  ) {
    this.key = options.key;
    this.clock = options.clock ?? Date.now;
    this.anchor = options.anchor;
    this.node = options.node ?? null;
  }

  /** Live export hooks (syslog/CEF exporters subscribe here). A failing listener never blocks the trail. */
  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Append one event. Inside `repos` (an open transaction) it lands with the change it describes and is
   * published to the exporters once that transaction commits; alone it opens its own (Store.transaction,
   * which runs it again if a writer in another process collided with it).
   */
  async record<K extends AuditEventType>(event: AuditEvent<K>, repos?: Repositories): Promise<AuditEventRow> {
    refuseUnlessDeclared(event);
    const row = repos ? await this.appendIn(repos, event) : await this.appendAlone(event);
    if (repos) repos.afterCommit(() => this.publish(row));
    else this.publish(row);
    return row;
  }

  /** Run `fn` in one transaction together with the event describing it: both land, or neither. */
  async withChange<T, K extends AuditEventType = AuditEventType>(event: AuditEvent<K>, fn: (repos: Repositories) => Promise<T>): Promise<T> {
    // Before the change runs: a change whose event would be refused is not made.
    refuseUnlessDeclared(event);
    return this.store.transaction(async (repos) => {
      const result = await fn(repos);
      await this.record(event, repos);
      return result;
    });
  }

  private publish(row: AuditEventRow): void {
    if (this.anchor && Number(row.seq) % this.anchor.every === 0) {
      try {
        this.anchor.append({ seq: Number(row.seq), hash: row.hash, at: this.clock() });
      } catch (e) {
        // The row is committed; a missed anchor weakens truncation detection until the next one, and
        // `orbit audit verify` still checks every link. Loud, not fatal.
        logger('audit').error('audit anchor could not be written', { file: this.anchor.file, seq: Number(row.seq), error: (e as Error).message });
      }
    }
    for (const l of this.listeners) {
      try {
        l(row);
      } catch {
        // An exporter's failure is its own to report; the row is already safe in the store.
      }
    }
  }

  private async appendAlone(event: UncheckedEvent): Promise<AuditEventRow> {
    try {
      // The row is published by record(), not through afterCommit: the caller is told only once it is stored.
      return await this.store.transaction((repos) => this.appendIn(repos, event));
    } catch (e) {
      throw new WardenError('STORE_UNAVAILABLE', `audit event could not be written: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The next link reads the chain head and writes after it in the same transaction. No other writer can
   * take that place meanwhile: a write transaction holds SQLite's write lock from its start (BEGIN
   * IMMEDIATE); on MariaDB two writers that did collide on the next seq are run again by Store.transaction.
   */
  private async appendIn(repos: Repositories, event: UncheckedEvent): Promise<AuditEventRow> {
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
      node_id: this.node,
    };
    const row: AuditEventRow = { ...base, hash: hashAuditRow(this.key, base) };
    await repos.auditEvents.insert(row);
    return row;
  }

  /** Copy the current chain head to the anchor (at shutdown; after init and restore with `fresh`). */
  async anchorHead(opts: { fresh?: boolean } = {}): Promise<void> {
    if (!this.anchor) return;
    const last = await this.store.repos.auditEvents.last();
    if (!last) return;
    const entry = { seq: Number(last.seq), hash: last.hash, at: this.clock() };
    if (opts.fresh) this.anchor.reset(entry);
    else this.anchor.append(entry);
  }

  /** Events for an auditor, newest first, filtered by type, actor, subject and time. */
  async events(filter: AuditEventFilter): Promise<AuditEventView[]> {
    const rows = await this.store.repos.auditEvents.query(filter);
    return rows.map(viewOf);
  }

  /**
   * The filtered events as CSV (header first), newest first, read in keyset pages so an export of millions of
   * rows holds one page in memory. `filter.limit` is the page size here, not a cap.
   */
  async *csv(filter: AuditEventFilter): AsyncGenerator<string> {
    yield `${AUDIT_CSV_COLUMNS.join(',')}\r\n`;
    let beforeSeq = filter.beforeSeq;
    for (;;) {
      const rows = await this.store.repos.auditEvents.query({ ...filter, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      if (rows.length === 0) return;
      yield rows.map((r) => auditCsvLine(viewOf(r))).join('');
      if (rows.length < filter.limit) return;
      beforeSeq = Number(rows[rows.length - 1]!.seq);
    }
  }

  /**
   * Walk the whole chain in order; report the first row whose link or content does not hold. With the anchor
   * (the default when one is configured), every anchored head must still be in the chain with the same link:
   * a chain that ends before an anchored row has lost its newest rows.
   */
  async verify(opts: { pageSize?: number; anchor?: boolean } = {}): Promise<ChainVerdict> {
    const pageSize = opts.pageSize ?? 1000;
    const anchored = new Map<number, string>();
    if (this.anchor && opts.anchor !== false) {
      const reading = this.anchor.read();
      if (!reading.present) return { ok: false, rows: 0, brokenSeq: 1, reason: `the anchor file ${this.anchor.file} is missing: rows cut from the end could not be detected` };
      if (reading.malformedLine !== null) return { ok: false, rows: 0, brokenSeq: 1, reason: `the anchor file ${this.anchor.file} is damaged at line ${reading.malformedLine}` };
      for (const e of reading.entries) {
        const seen = anchored.get(e.seq);
        if (seen !== undefined && seen !== e.hash) return { ok: false, rows: 0, brokenSeq: e.seq, reason: `the anchor file holds two different links for row ${e.seq}` };
        anchored.set(e.seq, e.hash);
      }
    }
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let rows = 0;
    const nodes: Record<string, number> = {};
    for (;;) {
      const page = await this.store.repos.auditEvents.page(expectedSeq - 1, pageSize);
      if (page.length === 0) break;
      for (const row of page) {
        const seq = Number(row.seq);
        if (seq !== expectedSeq) return { ok: false, rows, brokenSeq: expectedSeq, reason: `row ${expectedSeq} is missing (next is ${seq})` };
        if (row.prev_hash !== prevHash) return { ok: false, rows, brokenSeq: seq, reason: 'link to the previous row does not match' };
        const { hash, ...rest } = row;
        if (!sameLink(hashAuditRow(this.key, { ...rest, seq, ts: Number(row.ts) }), hash)) {
          return { ok: false, rows, brokenSeq: seq, reason: 'row content does not match its keyed link' };
        }
        const anchoredHash = anchored.get(seq);
        if (anchoredHash !== undefined && anchoredHash !== hash) {
          return { ok: false, rows, brokenSeq: seq, reason: 'row differs from the anchored head written outside the database' };
        }
        prevHash = hash;
        expectedSeq++;
        rows++;
        nodes[row.node_id ?? ''] = (nodes[row.node_id ?? ''] ?? 0) + 1;
      }
    }
    const lastSeq = expectedSeq - 1;
    const highest = Math.max(0, ...anchored.keys());
    if (highest > lastSeq) {
      return { ok: false, rows, brokenSeq: lastSeq + 1, reason: `the chain ends at row ${lastSeq} but the anchor shows row ${highest} existed: rows were cut from the end` };
    }
    return { ok: true, rows, lastSeq, anchors: anchored.size, nodes };
  }
}
