// Real target output, from two independent encoders: what xrdp 0.9.21 (Debian 12, Xvnc session, the RDP lab's
// desktop; at 15 bpp, which its VNC back end refuses, xrdp's own Connection Log window) and FreeRDP 2.11's
// shadow server (an Xvfb screen with an xterm) sent to xfreerdp 2.11 over TLS, captured in plaintext after the
// ClientInfo — at 32 bpp (planar bitmaps with RLE planes, with an alpha plane from xrdp, without from FreeRDP)
// and at 16 and 15 bpp (interleaved RLE) — beside the client's own screenshot at the end of the session.
// Written through the real RecordingWriter with their times and rendered by rdpFrames: the last frame is the
// client's screen, pixel for pixel. (Captured without bulk compression, as the proxy asks the target; the
// capture: a TLS relay in front of the target, frames split as the proxy splits them.)
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ManualClock, tempDir } from '../../helpers/fixtures.js';
import { testToken, type TestToken } from '../../helpers/token.js';
import { pictureDifference } from '../../helpers/rdp-frames.js';
import { RecordingWriter, decodePng, openRecording, rdpFrames, type RdpFrame, type RdpRenderStats } from '../../../appliance/recording/index.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'tests', 'fixtures', 'rdp');

/** The frames file: (u32 ms after the first, u32 length, frame)*. */
function frames(name: string): { atMs: number; frame: Buffer }[] {
  const b = readFileSync(path.join(FIXTURES, name));
  const out: { atMs: number; frame: Buffer }[] = [];
  for (let pos = 0; pos < b.length; ) {
    const atMs = b.readUInt32BE(pos);
    const len = b.readUInt32BE(pos + 4);
    out.push({ atMs, frame: b.subarray(pos + 8, pos + 8 + len) });
    pos += 8 + len;
  }
  return out;
}

describe('rendering real RDP sessions', () => {
  let token: TestToken;
  const tmp = tempDir('warden-rdprec-');

  before(() => {
    token = testToken();
  });
  after(() => {
    token.cleanup();
    tmp.cleanup();
  });

  for (const [name, bpp] of [['xrdp', 32], ['xrdp', 16], ['xrdp', 15], ['freerdp-shadow', 32], ['freerdp-shadow', 16]] as const) {
    test(`${name} at ${bpp} bpp: the last rendered frame is the client's screenshot, pixel for pixel`, async () => {
      const clock = new ManualClock();
      const start = clock.now;
      const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: `${name}-${bpp}`, clock: clock.read, meta: { protocol: 'rdp', cols: 320, rows: 200, term: 'rdp' } });
      const recorded = frames(`${name}-${bpp}bpp-320x200.frames`);
      for (const f of recorded) {
        clock.now = start + f.atMs;
        w.output(f.frame);
      }
      await w.close();
      let stats: RdpRenderStats | undefined;
      const rec = await openRecording(w.path, token.keys);
      const all: RdpFrame[] = [];
      for await (const f of rdpFrames(rec, { png: true, onEnd: (s) => (stats = s) })) all.push(f);
      const last = all.at(-1)!;
      assert.equal(last.last, true);
      assert.equal(last.atMs, recorded.at(-1)!.atMs);
      const shot = decodePng(readFileSync(path.join(FIXTURES, `${name}-${bpp}bpp-320x200.png`)));
      const mine = decodePng(last.png!);
      assert.deepEqual([mine.width, mine.height], [shot.width, shot.height]);
      const { differing, maxDelta } = pictureDifference(mine, shot);
      assert.equal(differing, 0, `${differing} pixels differ from the client's screenshot (by up to ${maxDelta})`);
      assert.equal(stats!.skipped, 0, stats!.problems.join('; '));
      assert.ok(stats!.rects >= 20, `${stats!.rects} bitmap rectangles drawn`);
      // Without a frame interval: one frame per change, in time order, each with its time.
      assert.ok(all.length > 1 && all.every((f, i) => i === 0 || f.atMs >= all[i - 1]!.atMs));
    });
  }
});
