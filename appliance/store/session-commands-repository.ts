// Commands and output text of proxied sessions, the full-text search over them, and access groups' command
// rules. Writing is portable SQL; searching is the engine's own full-text index, so the search lives behind
// one interface (SessionSearchRepository) with one implementation per engine: FTS5 syntax stays in the
// SQLite one, and the MariaDB one speaks MATCH ... AGAINST over FULLTEXT indexes on the same columns.
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { AccessGroupCommandRulesTable, Database, SessionCommandsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface CommandRuleRow {
  pattern: string;
  action: AccessGroupCommandRulesTable['action'];
}

export class CommandRulesRepository {
  constructor(private readonly db: Db) {}

  /** A group's rules in order, and its mode; undefined if there is no such group. */
  async ofGroup(groupId: number): Promise<{ mode: 'rules' | 'allow-list'; rules: CommandRuleRow[] } | undefined> {
    const g = await this.db.selectFrom('access_groups').select('command_mode').where('id', '=', groupId).executeTakeFirst();
    if (!g) return undefined;
    const rules = await this.db.selectFrom('access_group_command_rules').select(['pattern', 'action']).where('group_id', '=', groupId).orderBy('position').execute();
    return { mode: g.command_mode, rules };
  }

  /** Replace a group's rules and mode (the caller validated them). */
  async replace(groupId: number, mode: 'rules' | 'allow-list', rules: readonly CommandRuleRow[]): Promise<void> {
    await this.db.updateTable('access_groups').set({ command_mode: mode }).where('id', '=', groupId).execute();
    await this.db.deleteFrom('access_group_command_rules').where('group_id', '=', groupId).execute();
    for (let i = 0; i < rules.length; i += 200) {
      const chunk = rules.slice(i, i + 200).map((r, j) => ({ group_id: groupId, position: i + j, pattern: r.pattern, action: r.action }));
      await this.db.insertInto('access_group_command_rules').values(chunk).execute();
    }
  }
}

export interface NewSessionCommand {
  sessionId: string;
  at: number;
  offsetMs: number;
  command: string;
  exitStatus: number | null;
  action: SessionCommandsTable['action'];
}

export interface NewSessionOutputText {
  sessionId: string;
  at: number;
  offsetMs: number;
  text: string;
}

export interface SessionCommandRow {
  at: number;
  offsetMs: number;
  command: string;
  exitStatus: number | null;
  action: SessionCommandsTable['action'];
}

/** Appending to a session's commands and output text (portable SQL; the engine indexes them). */
export class SessionCommandsRepository {
  constructor(private readonly db: Db) {}

  async appendCommands(rows: readonly NewSessionCommand[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200).map((r) => ({
        session_id: r.sessionId,
        at: r.at,
        offset_ms: r.offsetMs,
        command: r.command,
        exit_status: r.exitStatus,
        action: r.action,
      }));
      await this.db.insertInto('session_commands').values(chunk).execute();
    }
  }

  /**
   * Set the exit status of a command stored without one, found by its session, time and text (the first such
   * row, if two are alike). Returns whether a row was found.
   */
  async setExitStatus(sessionId: string, at: number, command: string, exitStatus: number): Promise<boolean> {
    // The exact text is confirmed here: an engine may compare the searched column without case (MariaDB's
    // full-text column), and only byte-equal text is the same command.
    const rows = await this.db
      .selectFrom('session_commands')
      .select(['id', 'command'])
      .where('session_id', '=', sessionId)
      .where('at', '=', at)
      .where('command', '=', command)
      .where('exit_status', 'is', null)
      .orderBy('id')
      .execute();
    const row = rows.find((r) => r.command === command);
    if (!row) return false;
    await this.db.updateTable('session_commands').set({ exit_status: exitStatus }).where('id', '=', row.id).execute();
    return true;
  }

  async appendOutput(rows: readonly NewSessionOutputText[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200).map((r) => ({ session_id: r.sessionId, at: r.at, offset_ms: r.offsetMs, text: r.text }));
      await this.db.insertInto('session_output_text').values(chunk).execute();
    }
  }

  /** One page of a session's commands in the order they were entered, and how many it has. */
  async pageOf(sessionId: string, page: { limit: number; offset: number }): Promise<{ commands: SessionCommandRow[]; total: number }> {
    const rows = await this.db.selectFrom('session_commands').selectAll().where('session_id', '=', sessionId).orderBy('at').orderBy('id').limit(page.limit).offset(page.offset).execute();
    const count = await this.db.selectFrom('session_commands').select((eb) => eb.fn.countAll<number>().as('n')).where('session_id', '=', sessionId).executeTakeFirstOrThrow();
    return { commands: rows.map((r) => ({ at: Number(r.at), offsetMs: Number(r.offset_ms), command: r.command, exitStatus: r.exit_status, action: r.action })), total: Number(count.n) };
  }

  async commandsOf(sessionId: string): Promise<SessionCommandRow[]> {
    const rows = await this.db.selectFrom('session_commands').selectAll().where('session_id', '=', sessionId).orderBy('id').execute();
    return rows.map((r) => ({ at: Number(r.at), offsetMs: Number(r.offset_ms), command: r.command, exitStatus: r.exit_status, action: r.action }));
  }
}

export interface SessionSearchQuery {
  /** Text a command contains (a substring, case-insensitive; every character literal). */
  command?: string;
  /** Text the session's output contains (same rules). With `command`: commands of sessions whose output has it. */
  text?: string;
  /** Warden user name, exactly. */
  user?: string;
  /** Device host name or address, exactly. */
  device?: string;
  /** Only from this instant on (ms since the epoch). */
  since?: number;
  /** Keyset paging: only hits older than this one (a hit's `id`, from the page before). */
  before?: number;
  limit: number;
}

export interface SessionSearchHit {
  /** The row's id in its table (commands, or output text for text-only searches): the next page's `before`. */
  id: number;
  sessionId: string;
  username: string;
  hostname: string;
  at: number;
  offsetMs: number;
  /** The command found (command searches), or null. */
  command: string | null;
  /** The output text chunk found (text-only searches), or null. */
  text: string | null;
  /** What the command rules did with the command. */
  action: SessionCommandsTable['action'] | null;
  /** The command's exit status, when known (exec commands; interactive ones whose shell reported it). */
  exitStatus: number | null;
  /** The session's recording, if it has one. */
  recordingId: string | null;
}

export interface SessionSearchRepository {
  /** Newest first. */
  search(query: SessionSearchQuery): Promise<SessionSearchHit[]>;
}

/**
 * An FTS5 query that matches `text` literally: one phrase, its double quotes doubled. Inside a phrase
 * nothing is an operator (`*`, `NEAR`, `AND`, `:` and parentheses are text), so a user's search string can
 * never change the query's structure.
 */
export function fts5Phrase(text: string): string {
  return '"' + text.replace(/"/g, '""') + '"';
}

/** The trigram tokenizer indexes three characters at a time: shorter needles cannot use the index. */
const TRIGRAM = 3;

/** Where the two engines' searches differ: how a needle matches, and how a session's rows are joined. */
interface SearchDialect {
  commandMatch(needle: string): RawBuilder<unknown>;
  outputMatch(needle: string): RawBuilder<unknown>;
  /** `c` session_commands or `o` session_output_text joined to proxy_sessions `s`; narrowed: by user or device. */
  from(alias: 'c' | 'o', narrowed: boolean): RawBuilder<unknown>;
}

const SEARCHED_TABLES = { c: 'session_commands', o: 'session_output_text' } as const;

/** The search both engines run, newest first, with their own matching and join order. */
async function searchSessions(db: Db, q: SessionSearchQuery, dialect: SearchDialect): Promise<SessionSearchHit[]> {
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
  const narrowed = q.user !== undefined || q.device !== undefined;
  const filters = (alias: 'c' | 'o') => {
    const a = sql.raw(alias);
    const parts = [sql`1 = 1`];
    if (q.user !== undefined) parts.push(sql`s.username = ${q.user}`);
    if (q.device !== undefined) parts.push(sql`(s.hostname = ${q.device} OR s.device_id IN (SELECT id FROM devices WHERE address = ${q.device}))`);
    if (q.since !== undefined) parts.push(sql`${a}.at >= ${q.since}`);
    if (q.before !== undefined) parts.push(sql`${a}.id < ${q.before}`);
    return sql.join(parts, sql` AND `);
  };
  if (q.command === undefined && q.text !== undefined) {
    const rows = await sql<{ id: number; session_id: string; username: string; hostname: string; at: number; offset_ms: number; text: string; recording_id: string | null }>`
      SELECT x.*, (SELECT r.id FROM recordings r WHERE r.session_id = x.session_id) AS recording_id FROM (
      SELECT o.id, o.session_id, s.username, s.hostname, o.at, o.offset_ms, o.text
      FROM ${dialect.from('o', narrowed)}
      WHERE ${dialect.outputMatch(q.text)} AND ${filters('o')}
      ORDER BY o.id DESC LIMIT ${limit}) x ORDER BY x.id DESC`.execute(db);
    return rows.rows.map((r) => ({ ...hitPlace(r), command: null, text: r.text, action: null, exitStatus: null }));
  }
  const conditions = [filters('c')];
  if (q.text !== undefined) conditions.push(sql`c.session_id IN (SELECT o.session_id FROM session_output_text o WHERE ${dialect.outputMatch(q.text)})`);
  if (q.command !== undefined) conditions.push(dialect.commandMatch(q.command));
  // The recording is looked up for the rows returned only (outside the sorted, limited inner query).
  const rows = await sql<{ id: number; session_id: string; username: string; hostname: string; at: number; offset_ms: number; command: string; action: SessionCommandsTable['action']; exit_status: number | null; recording_id: string | null }>`
    SELECT x.*, (SELECT r.id FROM recordings r WHERE r.session_id = x.session_id) AS recording_id FROM (
    SELECT c.id, c.session_id, s.username, s.hostname, c.at, c.offset_ms, c.command, c.action, c.exit_status
    FROM ${dialect.from('c', narrowed)}
    WHERE ${sql.join(conditions, sql` AND `)}
    ORDER BY c.id DESC LIMIT ${limit}) x ORDER BY x.id DESC`.execute(db);
  return rows.rows.map((r) => ({ ...hitPlace(r), command: r.command, text: null, action: r.action, exitStatus: r.exit_status === null ? null : Number(r.exit_status) }));
}

/** Where a hit is, whichever table it came from: the session, who and where, when, and its recording. */
function hitPlace(r: { id: number; session_id: string; username: string; hostname: string; at: number; offset_ms: number; recording_id: string | null }) {
  return { id: Number(r.id), sessionId: r.session_id, username: r.username, hostname: r.hostname, at: Number(r.at), offsetMs: Number(r.offset_ms), recordingId: r.recording_id };
}

export class SqliteSessionSearchRepository implements SessionSearchRepository {
  constructor(private readonly db: Db) {}

  search(q: SessionSearchQuery): Promise<SessionSearchHit[]> {
    return searchSessions(this.db, q, {
      commandMatch: (needle) =>
        needle.length >= TRIGRAM
          ? sql`c.id IN (SELECT rowid FROM session_commands_fts WHERE session_commands_fts MATCH ${fts5Phrase(needle)})`
          : sql`instr(lower(c.command), lower(${needle})) > 0`,
      outputMatch: (needle) =>
        needle.length >= TRIGRAM
          ? sql`o.id IN (SELECT rowid FROM session_output_text_fts WHERE session_output_text_fts MATCH ${fts5Phrase(needle)})`
          : sql`instr(lower(o.text), lower(${needle})) > 0`,
      // With a user or device the sessions are few: walk them first (CROSS JOIN fixes the order in SQLite),
      // instead of every row the full-text index matches, which for a common word is most of them.
      // (Reading the index's matches newest first and stopping at the limit was measured slower: FTS5 loads a
      // phrase's whole doclist to walk it backwards. The set of matching ids, taken once, is the cheaper plan.)
      from: (alias, narrowed) => {
        const [t, a] = [sql.raw(SEARCHED_TABLES[alias]), sql.raw(alias)];
        return narrowed ? sql`proxy_sessions s CROSS JOIN ${t} ${a} ON ${a}.session_id = s.id` : sql`${t} ${a} JOIN proxy_sessions s ON s.id = ${a}.session_id`;
      },
    });
  }
}

/** InnoDB's FULLTEXT defaults (innodb_ft_min_token_size / innodb_ft_max_token_size): other words are not indexed. */
const FT_MIN_WORD = 3;
const FT_MAX_WORD = 84;

/**
 * The words of `needle` that any text containing it must hold as whole words, as a boolean-mode query
 * ("+etc +passwd"), or undefined when there are none. A FULLTEXT index holds words, not substrings: the first
 * and last words of a needle may be the tail or the head of a longer word in the text ("passwd" is inside
 * "/etc/mypasswd"), so only words with a delimiter on both sides inside the needle count. Only ASCII words
 * between ASCII delimiters are used: those split the same way in InnoDB's parser (letters, digits and _ are
 * word characters; an apostrophe inside a word belongs to it, so it never counts as a delimiter here).
 */
export function fulltextWords(needle: string): string | undefined {
  const terms = new Set<string>();
  for (const m of needle.matchAll(/[A-Za-z0-9_]+/g)) {
    const start = m.index!;
    const end = start + m[0].length;
    const before = needle[start - 1];
    const after = needle[end];
    const delimits = (c: string | undefined) => c !== undefined && c !== "'" && c.charCodeAt(0) < 0x80;
    if (!delimits(before) || !delimits(after)) continue;
    if (m[0].length < FT_MIN_WORD || m[0].length > FT_MAX_WORD) continue;
    terms.add(`+${m[0].toLowerCase()}`);
  }
  return terms.size > 0 ? [...terms].join(' ') : undefined;
}

/**
 * MariaDB: FULLTEXT indexes (migration 0010) narrow to the rows holding the needle's whole words, and a
 * substring check confirms, so the results are SQLite's trigram search's: same needles, same rows, same order.
 * A needle with no whole word inside it (one word, or words too short) is a scan of the substring check alone.
 */
export class MariaDbSessionSearchRepository implements SessionSearchRepository {
  constructor(private readonly db: Db) {}

  search(q: SessionSearchQuery): Promise<SessionSearchHit[]> {
    // LOWER then byte comparison: case folded, accents kept (the column's collation alone would equate é and e).
    const contains = (column: ReturnType<typeof sql.raw>, needle: string) => sql`INSTR(LOWER(${column}) COLLATE utf8mb4_bin, LOWER(${needle}) COLLATE utf8mb4_bin) > 0`;
    const match = (column: ReturnType<typeof sql.raw>, needle: string) => {
      const words = fulltextWords(needle);
      return words ? sql`MATCH (${column}) AGAINST (${words} IN BOOLEAN MODE) AND ${contains(column, needle)}` : contains(column, needle);
    };
    const commandMatch = (needle: string) => match(sql.raw('c.command'), needle);
    const outputMatch = (needle: string) => match(sql.raw('o.text'), needle);
    return searchSessions(this.db, q, {
      commandMatch,
      outputMatch,
      from: (alias) => sql`${sql.raw(SEARCHED_TABLES[alias])} ${sql.raw(alias)} JOIN proxy_sessions s ON s.id = ${sql.raw(alias)}.session_id`,
    });
  }
}

export function sessionSearchFor(engine: 'sqlite' | 'mariadb', db: Db): SessionSearchRepository {
  return engine === 'sqlite' ? new SqliteSessionSearchRepository(db) : new MariaDbSessionSearchRepository(db);
}
