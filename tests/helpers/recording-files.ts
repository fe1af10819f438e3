// Reading recording files in tests: every event of one, and where each chunk sits (to cut or tamper with it).
import { readFileSync } from 'node:fs';
import { openRecording, type RecordingEvent } from '../../appliance/recording/index.js';
import { MAGIC } from '../../appliance/recording/format.js';
import type { TestToken } from './token.js';

export async function readAll(file: string, keys: TestToken['keys']): Promise<RecordingEvent[]> {
  const rec = await openRecording(file, keys);
  const out: RecordingEvent[] = [];
  for await (const e of rec.events()) out.push(e);
  return out;
}

/** Offsets of the chunks in a recording file: [start, end) of each. */
export function chunkOffsets(file: string): [number, number][] {
  const buf = readFileSync(file);
  let pos = MAGIC.length + 4 + buf.readUInt32BE(MAGIC.length);
  const out: [number, number][] = [];
  while (pos + 4 <= buf.length) {
    const end = pos + 4 + buf.readUInt32BE(pos) + 16;
    if (end > buf.length) break;
    out.push([pos, end]);
    pos = end;
  }
  return out;
}
