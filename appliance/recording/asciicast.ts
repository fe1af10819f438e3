// asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line, then one JSON array per
// event, [seconds, code, data]. Output is "o", input "i" (only when asked: it is what the user typed), a
// resize "r" with "COLSxROWS", a marker "m". Bytes become text through a streaming UTF-8 decoder, so a
// character split across two records comes out whole.
import { StringDecoder } from 'node:string_decoder';
import type { Recording } from './reader.js';
import { WardenError } from '../errors/index.js';

export interface AsciicastOptions {
  /** Include what the user typed as "i" events (default false). */
  input?: boolean;
}

/** The asciicast v2 lines of a recording, each ending in "\n". The recording's verdict is set at the end. */
export async function* asciicastLines(rec: Recording, opts: AsciicastOptions = {}): AsyncGenerator<string> {
  const h = rec.header;
  yield JSON.stringify({ version: 2, width: h.cols, height: h.rows, timestamp: Math.floor(h.startedAt / 1000), env: { TERM: h.term } }) + '\n';
  const out = new StringDecoder('utf8');
  const inp = new StringDecoder('utf8');
  let last = 0;
  const line = (at: number, code: string, data: string) => JSON.stringify([Number((at / 1000).toFixed(3)), code, data]) + '\n';
  for await (const e of rec.events()) {
    last = e.at;
    if (e.type === 'output') {
      const s = out.write(e.data);
      if (s) yield line(e.at, 'o', s);
    } else if (e.type === 'input' && opts.input) {
      const s = inp.write(e.data);
      if (s) yield line(e.at, 'i', s);
    } else if (e.type === 'resize') {
      yield line(e.at, 'r', `${e.cols}x${e.rows}`);
    } else if (e.type === 'event' && e.kind === 'marker') {
      yield line(e.at, 'm', typeof e.data.label === 'string' ? e.data.label : '');
    }
  }
  const rest = out.end();
  if (rest) yield line(last, 'o', rest);
  // What was yielded is authentic; a reader must still learn that the rest failed (a cut tail does not).
  if (rec.verdict && !rec.verdict.ok) throw new WardenError('RECORDING_UNREADABLE', `the recording failed verification: ${rec.verdict.problem}`);
}
