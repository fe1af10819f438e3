// make bench — rendering an RDP recording: a real xrdp session's frames (32 bpp planar, tests/fixtures/rdp),
// replayed 200 times into one recording by the real writer, then
//  - the baseline: reading it back (decrypt, verify the chain, iterate the events), nothing drawn;
//  - rdpFrames to the last frame only (split, parse, decode every bitmap, draw);
//  - rdpFrames with a PNG every second of recording time (what `orbit recording render` does);
// each printed as time and as a ratio to the baseline of the same run, with the recorded bytes per second.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecordingWriter, openRecording, rdpFrames } from '../appliance/recording/index.js';
import { ManualClock, tempDir } from '../tests/helpers/fixtures.js';
import { testToken } from '../tests/helpers/token.js';

const REPEAT = Number(process.env.BENCH_RDP_REPEAT ?? 200);
const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'fixtures', 'rdp', 'xrdp-32bpp-320x200.frames');

function frames(): { atMs: number; frame: Buffer }[] {
  const b = readFileSync(FIXTURE);
  const out: { atMs: number; frame: Buffer }[] = [];
  for (let pos = 0; pos < b.length; pos += 8 + b.readUInt32BE(pos + 4)) out.push({ atMs: b.readUInt32BE(pos), frame: b.subarray(pos + 8, pos + 8 + b.readUInt32BE(pos + 4)) });
  return out;
}

async function main(): Promise<void> {
  const token = testToken();
  const tmp = tempDir('warden-bench-rdp-');
  try {
    const session = frames();
    const span = session.at(-1)!.atMs + 250;
    const clock = new ManualClock();
    const start = clock.now;
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: 'bench-rdp', clock: clock.read, meta: { protocol: 'rdp', cols: 320, rows: 200, term: 'rdp' } });
    let bytes = 0;
    for (let i = 0; i < REPEAT; i++) {
      for (const f of session) {
        clock.now = start + i * span + f.atMs;
        w.output(f.frame);
        bytes += f.frame.length;
      }
      await w.flush();
    }
    await w.close();
    const seconds = (REPEAT * span) / 1000;

    const time = async (run: () => Promise<number>): Promise<[number, number]> => {
      const t0 = performance.now();
      const n = await run();
      return [performance.now() - t0, n];
    };
    const [read] = await time(async () => {
      let n = 0;
      for await (const e of (await openRecording(w.path, token.keys)).events()) if (e.type === 'output') n++;
      return n;
    });
    const [last, lastFrames] = await time(async () => {
      let n = 0;
      for await (const _ of rdpFrames(await openRecording(w.path, token.keys), { lastOnly: true })) n++;
      return n;
    });
    const [pngs, pngFrames] = await time(async () => {
      let n = 0;
      for await (const _ of rdpFrames(await openRecording(w.path, token.keys), { everyMs: 1000, png: true })) n++;
      return n;
    });
    console.log(`RDP render: ${REPEAT} × a real xrdp session (320×200, 32 bpp planar), ${(bytes / 1024 / 1024).toFixed(1)} MiB of target frames over ${seconds.toFixed(0)} s of recording`);
    console.log(`  read back, nothing drawn (baseline)  ${read.toFixed(0).padStart(6)} ms  1.00×`);
    console.log(`  rendered to the last frame           ${last.toFixed(0).padStart(6)} ms  ${(last / read).toFixed(2)}×  (${lastFrames} frame)`);
    console.log(`  rendered, a PNG every second         ${pngs.toFixed(0).padStart(6)} ms  ${(pngs / read).toFixed(2)}×  (${pngFrames} frames; ${((seconds * 1000) / pngs).toFixed(0)}× faster than real time)`);
  } finally {
    token.cleanup();
    tmp.cleanup();
  }
}

await main();
