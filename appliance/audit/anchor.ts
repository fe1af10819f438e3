// The anchor: the chain head copied, every N events and at shutdown, to a file outside the database, so
// that rows cut from the end of the trail are caught. Lines are appended (O_APPEND, one write each), so
// writers in several processes never interleave a line; `orbit audit verify` checks every line.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePrivateDir, privateFileMode } from '../config/index.js';

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
    // Every daemon appends: group-writable where the directory is shared (the appliance), else 0600.
    makePrivateDir(path.dirname(this.file));
    appendFileSync(this.file, JSON.stringify(entry) + '\n', { mode: privateFileMode(path.dirname(this.file), { write: true }) });
  }

  /** Start a new anchor for a new chain (a fresh appliance, a restore): the old one described another history. */
  reset(entry: AnchorEntry): void {
    makePrivateDir(path.dirname(this.file));
    writeFileSync(this.file, JSON.stringify(entry) + '\n', { mode: privateFileMode(path.dirname(this.file), { write: true }) });
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
