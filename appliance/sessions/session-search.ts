// "Who ran this, where, when": search over the commands and output text of recorded sessions, answering with
// the session and the offset into its recording. The query runs on the store's full-text index (whatever
// the engine); this service validates what a person typed and shapes the answer.
import type { SessionSearchHit, SessionSearchQuery, Store } from '../store/index.js';
import { InputError, requireText } from '../errors/index.js';

export interface SessionSearchResult {
  sessionId: string;
  user: string;
  device: string;
  /** When the command was entered (or the output printed): ISO 8601. */
  time: string;
  at: number;
  command: string | null;
  /** An excerpt of the output text around the match (text searches). */
  text: string | null;
  action: SessionSearchHit['action'];
  /**
   * The command's exit status: an exec command's always, an interactive one's when the target's shell
   * reported it (shell integration mark OSC 133;D); null when unknown (or for text hits).
   */
  exitStatus: number | null;
  /** The session's recording (for `orbit recording export`), null if it has none. */
  recordingId: string | null;
  /** Where to start the recording's playback: seconds from its start. */
  offsetSeconds: number;
}

export const SEARCH_MAX_LIMIT = 1000;
const RELATIVE = /^(\d{1,6})([smhdw])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * `since` as a person writes it: an ISO date or date-time, milliseconds since the epoch, or a span back from
 * now ("90m", "12h", "7d", "2w").
 */
export function parseSince(value: string, now: number): number {
  const v = value.trim();
  const rel = RELATIVE.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS];
  if (/^\d{10,14}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) throw new InputError('since must be an ISO date, epoch milliseconds, or a span like 7d', { field: 'since' });
  return t;
}

/** Check a search as received (HTTP query or CLI flags: strings), into the store's query. */
export function validateSearch(input: Record<string, unknown>, now: number): SessionSearchQuery {
  const text = (field: string, max: number): string | undefined => {
    const v = input[field];
    if (v === undefined || v === '') return undefined;
    return requireText(v, field, { min: 1, max });
  };
  const q: SessionSearchQuery = { limit: 100 };
  const command = text('command', 256);
  const output = text('text', 256);
  const user = text('user', 64);
  const device = text('device', 253);
  if (command !== undefined) q.command = command;
  if (output !== undefined) q.text = output;
  if (user !== undefined) q.user = user;
  if (device !== undefined) q.device = device;
  if (input.since !== undefined && input.since !== '') {
    if (typeof input.since !== 'string' && typeof input.since !== 'number') throw new InputError('since must be a string', { field: 'since' });
    q.since = parseSince(String(input.since), now);
  }
  if (input.before !== undefined && input.before !== '') {
    const n = typeof input.before === 'number' || (typeof input.before === 'string' && /^[1-9][0-9]{0,15}$/.test(input.before)) ? Number(input.before) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new InputError('before must be a result id from the page before', { field: 'before' });
    q.before = n;
  }
  if (input.limit !== undefined && input.limit !== '') {
    const n = Number(input.limit);
    if (!Number.isInteger(n) || n < 1 || n > SEARCH_MAX_LIMIT) throw new InputError(`limit must be 1 to ${SEARCH_MAX_LIMIT}`, { field: 'limit' });
    q.limit = n;
  }
  return q;
}

/** Up to `width` characters around the first occurrence of `needle` (case-insensitive). */
function excerpt(text: string, needle: string | undefined, width = 160): string {
  if (text.length <= width) return text;
  const i = needle ? text.toLowerCase().indexOf(needle.toLowerCase()) : 0;
  const start = Math.max(0, Math.min(text.length - width, i - Math.floor((width - (needle?.length ?? 0)) / 2)));
  return (start > 0 ? '…' : '') + text.slice(start, start + width) + (start + width < text.length ? '…' : '');
}

export interface SessionSearchPage {
  results: SessionSearchResult[];
  /** Pass as `before` for the next (older) page; null when this page is the last. */
  nextBefore: number | null;
}

export class SessionSearch {
  constructor(private readonly deps: { store: Store; clock?: () => number }) {}

  /** Search recorded sessions; `input` as received (see validateSearch). Newest first. */
  async find(input: Record<string, unknown>): Promise<SessionSearchResult[]> {
    return (await this.page(input)).results;
  }

  /**
   * One page of a search, newest first, and where the next begins (keyset: `before` is the last hit's row,
   * so a page stays the same while new sessions are recorded, and the thousandth page costs what the first does).
   */
  async page(input: Record<string, unknown>): Promise<SessionSearchPage> {
    const q = validateSearch(input, (this.deps.clock ?? Date.now)());
    if (q.command === undefined && q.text === undefined && q.user === undefined && q.device === undefined && q.since === undefined) {
      throw new InputError('give at least one of command, text, user, device, since');
    }
    // One more than asked: whether a next page exists, without counting.
    const found = await this.deps.store.repos.sessionSearch.search({ ...q, limit: q.limit + 1 });
    const hits = found.slice(0, q.limit);
    const nextBefore = found.length > q.limit ? hits.at(-1)!.id : null;
    const results = hits.map((h) => ({
      sessionId: h.sessionId,
      user: h.username,
      device: h.hostname,
      time: new Date(h.at).toISOString(),
      at: h.at,
      command: h.command,
      text: h.text === null ? null : excerpt(h.text, q.text),
      action: h.action,
      exitStatus: h.exitStatus,
      recordingId: h.recordingId,
      offsetSeconds: Math.max(0, Math.floor(h.offsetMs / 1000)),
    }));
    return { results, nextBefore };
  }
}
