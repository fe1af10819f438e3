// The anchor: the chain head copied, every N events and at shutdown, to a file outside the database, so
// that rows cut from the end of the trail are caught. Lines are appended (O_APPEND, one write each), so
// writers in several processes never interleave a line; `orbit audit verify` checks every line.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface AnchorEntry {
  seq: number;
  hash: string;
  /** When the anchor was written (ms since epoch). */
  at: number;
}

export type AnchorReading = { present: false } | { present: true; entries: AnchorEntry[]; malformedLine: number | null };

export class AuditAnchor {
  constructor(
    readonly file: string,
    /** Anchor every row whose seq is a multiple of this. */
    readonly every: number,
  ) {}

  append(entry: AnchorEntry): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    appendFileSync(this.file, JSON.stringify(entry) + '\n', { mode: 0o600 });
  }

  /** Start a new anchor for a new chain (a fresh appliance, a restore): the old one described another history. */
  reset(entry: AnchorEntry): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileSync(this.file, JSON.stringify(entry) + '\n', { mode: 0o600 });
  }

  read(): AnchorReading {
    if (!existsSync(this.file)) return { present: false };
    const entries: AnchorEntry[] = [];
    const lines = readFileSync(this.file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') continue;
      try {
        const e = JSON.parse(line) as Partial<AnchorEntry>;
        if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1 || typeof e.hash !== 'string' || !/^[0-9a-f]{64}$/.test(e.hash)) throw new Error('shape');
        entries.push({ seq: e.seq as number, hash: e.hash, at: Number(e.at ?? 0) });
      } catch {
        return { present: true, entries, malformedLine: i + 1 };
      }
    }
    return { present: true, entries, malformedLine: null };
  }
}
