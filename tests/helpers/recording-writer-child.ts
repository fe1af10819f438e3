// A process recording a session until it is killed: usage node recording-writer-child.js KEYS_JSON DIR SESSION_ID
// [COMPRESSION] (deflate-raw: an RDP-style compressed recording).
// Writes "line N\n" as output every 5 ms, chunks sealed every 20 ms, and prints "chunks N" whenever a chunk
// reached the disk, so the test can SIGKILL it with a known number of chunks written.
import { KeyService } from '../../appliance/keys/index.js';
import { RecordingWriter } from '../../appliance/recording/index.js';

const keys = KeyService.open(JSON.parse(process.argv[2]!));
const compressed = process.argv[5] === 'deflate-raw';
const compression = compressed ? ({ compression: 'deflate-raw' } as const) : {};
const w = await RecordingWriter.create({ keys, dir: process.argv[3]!, sessionId: process.argv[4]!, meta: { protocol: compressed ? 'rdp' : 'ssh', cols: 80, rows: 24, term: 'xterm' }, flushMs: 20, ...compression });
let i = 0;
let reported = 0;
setInterval(() => {
  w.output(Buffer.from(`line ${i++}\n`));
  if (w.chunks !== reported) {
    reported = w.chunks;
    process.stdout.write(`chunks ${reported}\n`);
  }
}, 5);
