// Seeded random mutations of valid server frames (bit flips, cuts, inserted and repeated bytes, length
// fields set to extremes) fed to the renderer and the decoders: each frame is drawn, skipped with an
// RdpGraphicsError, or counted as ignored — never another exception, never a hang, never a pixel outside
// the framebuffer (its size is checked after every frame, and each decoder's output is exactly its bitmap).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RdpFrameSplitter, RdpGraphicsError, RdpRenderer, RdpUpdateParser, decodeBitmap } from '../../../appliance/recording/index.js';
import { RGB565, altsecOrder, bitmapUpdateData, bounds, cacheBitmapRev1, cacheBitmapRev2, demandActive, fastPathFragments, fastPathFrame, i16, licenseValidClient, ordersFastPath, ordersSlowPath, paletteUpdateData, primaryOrder, slowPathUpdate, solid, u16, uncompressedRows } from '../../helpers/rdp-frames.js';
import { prng } from '../../helpers/prng.js';
import { RLE_16BPP_32X32, RED_PLANE_64X64_RLE, GREEN_PLANE_64X64_RLE } from './rdp-vectors.js';

const W = 96;
const H = 64;

function seeds(): Buffer[] {
  const planar = Buffer.concat([Buffer.from([0x30]), RED_PLANE_64X64_RLE, GREEN_PLANE_64X64_RLE, RED_PLANE_64X64_RLE]);
  const rle = bitmapUpdateData([{ left: 10, top: 5, width: 32, height: 32, bpp: 16, compressed: true, data: RLE_16BPP_32X32 }]);
  return [
    licenseValidClient(),
    demandActive(W, H),
    slowPathUpdate(rle),
    slowPathUpdate(bitmapUpdateData([{ left: 60, top: 40, width: 8, height: 4, bpp: 16, data: uncompressedRows(solid(8, 4, RGB565.red), 16) }])),
    slowPathUpdate(paletteUpdateData([[1, 2, 3], [4, 5, 6]])),
    fastPathFrame([{ code: 1, data: rle }]),
    fastPathFrame([{ code: 1, data: bitmapUpdateData([{ left: 20, top: 0, width: 64, height: 64, bpp: 32, compressed: true, data: planar }]) }]),
    fastPathFrame([{ code: 1, data: bitmapUpdateData([{ left: 0, top: 0, width: 4, height: 2, bpp: 8, data: Buffer.from([0, 1, 1, 0, 1, 0, 0, 1]) }]) }, { code: 5, data: Buffer.alloc(0) }]),
    ...fastPathFragments(1, rle, 60),
    // Orders: the bitmap cache and MemBlt (full, then delta), fills with bounds, a multi-rectangle, a copy,
    // a line, a glyph read through, an offscreen surface.
    ordersFastPath([
      cacheBitmapRev2({ cacheId: 1, cacheIndex: 300, bpp: 16, width: 32, height: 32, data: RLE_16BPP_32X32 }),
      cacheBitmapRev1({ cacheId: 0, cacheIndex: 9, bpp: 16, width: 2, height: 1, data: uncompressedRows([[RGB565.red, RGB565.green]], 16) }),
      primaryOrder({ type: 0x0d, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([u16(1), i16(10), i16(4), i16(20), i16(10), Buffer.from([0xcc]), i16(3), i16(2), u16(300)]) }),
      primaryOrder({ type: 0x0d, sameType: true, delta: true, fieldBytes: 2, present: 0x006, fields: Buffer.from([30, 0xf0]) }),
    ]),
    ordersSlowPath([
      primaryOrder({ type: 0x0a, fieldBytes: 1, present: 0x7f, fields: Buffer.concat([i16(0), i16(0), i16(64), i16(48), Buffer.from([0, 0xf8, 0])]), bounds: bounds(2, 2, 50, 30) }),
      primaryOrder({ type: 0x12, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([i16(0), i16(0), i16(0), i16(0), Buffer.from([0xe0, 0x07, 0]), Buffer.from([2]), u16(6), Buffer.from([0x07, 0x28, 0x28, 0x03, 0x02, 0x76])]) }),
      primaryOrder({ type: 0x02, fieldBytes: 1, present: 0x7f, fields: Buffer.concat([i16(0), i16(44), i16(3), i16(2), Buffer.from([0xcc]), i16(40), i16(40)]) }),
      primaryOrder({ type: 0x09, fieldBytes: 2, present: 0x3ff, fields: Buffer.concat([u16(1), i16(0), i16(47), i16(90), i16(3), Buffer.from([0, 0, 0]), Buffer.from([0x0d, 0, 1]), Buffer.from([0xff, 0xff, 0])]) }),
      primaryOrder({ type: 0x18, fieldBytes: 2, present: 0x4001, fields: Buffer.from([0x07, 2, 0x01, 0x02]) }),
    ]),
    ordersFastPath([
      altsecOrder(0x01, Buffer.concat([u16(3), u16(16), u16(16)])),
      altsecOrder(0x00, u16(3)),
      primaryOrder({ type: 0x0a, fieldBytes: 1, present: 0x7f, fields: Buffer.concat([i16(0), i16(0), i16(8), i16(8), Buffer.from([0x1f, 0, 0])]) }),
      altsecOrder(0x00, u16(0xffff)),
      primaryOrder({ type: 0x0d, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([u16(0xff), i16(70), i16(40), i16(16), i16(16), Buffer.from([0xcc]), i16(0), i16(0), u16(3)]) }),
    ]),
  ];
}

function mutate(frame: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(frame);
  const pick = () => Math.floor(rnd() * b.length);
  switch (Math.floor(rnd() * 6)) {
    case 0: // flip a few bits
      for (let i = 1 + Math.floor(rnd() * 4); i > 0; i--) b[pick()]! ^= 1 << Math.floor(rnd() * 8);
      return b;
    case 1: // cut the tail
      return b.subarray(0, pick());
    case 2: {
      // set a 16-bit field to an extreme
      const at = Math.min(pick(), b.length - 2);
      if (at >= 0) b.writeUInt16LE([0, 1, 0x7fff, 0x8000, 0xffff][Math.floor(rnd() * 5)]!, at);
      return b;
    }
    case 3: {
      // insert random bytes
      const at = pick();
      const extra = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 16) }, () => Math.floor(rnd() * 256)));
      return Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]);
    }
    case 4: // random bytes over a stretch
      for (let i = pick(), n = Math.floor(rnd() * 32); n > 0 && i < b.length; n--, i++) b[i] = Math.floor(rnd() * 256);
      return b;
    default: {
      // a stretch repeated
      const at = pick();
      return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 64), b.subarray(at)]);
    }
  }
}

describe('RDP renderer fuzz', () => {
  test('20000 mutated frames: drawn, skipped with RdpGraphicsError, or ignored; the framebuffer stays whole', { timeout: 120_000 }, () => {
    const rnd = prng(0x5eed0010);
    const valid = seeds();
    const r = new RdpRenderer(W, H);
    for (const f of valid) r.feed(f);
    assert.equal(r.stats.skipped, 0, `the seeds are valid: ${r.stats.problems.join('; ')}`);
    for (let i = 0; i < 20000; i++) {
      const f = mutate(valid[Math.floor(rnd() * valid.length)]!, rnd);
      // feed() rethrows anything but RdpGraphicsError: a TypeError or RangeError fails here.
      r.feed(f);
      const fb = r.framebuffer;
      assert.equal(fb.rgba.length, fb.width * fb.height * 4, `frame ${i}`);
    }
    assert.ok(r.stats.skipped > 100, `mutations were refused (${r.stats.skipped})`);
    assert.ok(r.stats.frames > 10_000 && r.stats.rects > 1000, `the stream kept being parsed and drawn (${r.stats.frames} frames, ${r.stats.rects} rectangles)`);
  });

  test('the parser and every decoder alone: RdpGraphicsError or a bitmap of exactly its size', { timeout: 120_000 }, () => {
    const rnd = prng(0xb17b17);
    const valid = seeds();
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 10000; i++) {
      const parser = new RdpUpdateParser();
      const f = mutate(valid[Math.floor(rnd() * valid.length)]!, rnd);
      let frames: Buffer[] = [];
      try {
        frames = new RdpFrameSplitter().push(f);
        for (const frame of frames) {
          for (const u of parser.parse(frame)) {
            if (u.kind !== 'bitmap') continue;
            for (const rect of u.rects) {
              try {
                const rgba = decodeBitmap(rect);
                assert.equal(rgba.length, rect.width * rect.height * 4);
                decoded++;
              } catch (e) {
                if (!(e instanceof RdpGraphicsError)) throw e;
                refused++;
              }
            }
          }
        }
      } catch (e) {
        if (!(e instanceof RdpGraphicsError)) throw e;
        refused++;
      }
    }
    assert.ok(decoded > 100 && refused > 100, `both outcomes seen (${decoded} decoded, ${refused} refused)`);
  });
});
