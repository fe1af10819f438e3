// Drawing orders as a target that paints through the bitmap cache sends them: Cache Bitmap (revisions 1 and
// 2, compressed in xrdp's encoding of them) then MemBlt, with the order state carried between orders (type,
// fields, delta coordinates, bounds); OpaqueRect, MultiOpaqueRect (delta rectangles), PatBlt, MultiPatBlt,
// DstBlt, MultiDstBlt, ScrBlt, LineTo; offscreen surfaces; and orders only passed over (glyphs) read through
// so the next order still draws. Every answer worked from the specification.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RdpRenderer } from '../../../appliance/recording/index.js';
import { altsecOrder, bounds, cacheBitmapRev1, cacheBitmapRev2, demandActive, i16, ordersFastPath, ordersSlowPath, primaryOrder, secondaryOrder, u16, uncompressedRows, RGB565, rgb565 } from '../../helpers/rdp-frames.js';
import { RAW_16BPP_32X32, RLE_16BPP_32X32 } from './rdp-vectors.js';

function px(r: RdpRenderer, x: number, y: number): number[] {
  const fb = r.framebuffer;
  const o = (y * fb.width + x) * 4;
  return [...fb.rgba.subarray(o, o + 3)];
}


/** The MS-RDPEGDI test bitmap's pixel (x, y), top-down. */
const testBitmap = (x: number, y: number) => rgb565(RAW_16BPP_32X32.readUInt16LE(((31 - y) * 32 + x) * 2));

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];

/** A MemBlt with every field: cacheId, left, top, width, height, rop SRCCOPY, srcX, srcY, cacheIndex. */
function memBlt(cacheId: number, x: number, y: number, w: number, h: number, srcX: number, srcY: number, cacheIndex: number): Buffer {
  return primaryOrder({ type: 0x0d, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([u16(cacheId), i16(x), i16(y), i16(w), i16(h), Buffer.from([0xcc]), i16(srcX), i16(srcY), u16(cacheIndex)]) });
}

/** An OpaqueRect with every field; `color` as its three bytes. */
function opaqueRect(x: number, y: number, w: number, h: number, color: [number, number, number], boundsBytes?: Buffer): Buffer {
  return primaryOrder({ type: 0x0a, fieldBytes: 1, present: 0x7f, fields: Buffer.concat([i16(x), i16(y), i16(w), i16(h), Buffer.from(color)]), ...(boundsBytes ? { bounds: boundsBytes } : {}) });
}

const c16 = (v: number): [number, number, number] => [v & 0xff, v >> 8, 0];

describe('RDP drawing orders', () => {
  test('Cache Bitmap revision 2 (interleaved RLE, as xrdp sends it) then MemBlt, then a MemBlt of delta coordinates', () => {
    const r = new RdpRenderer(96, 64);
    r.feed(demandActive(96, 64, 1003, 16));
    const cached = cacheBitmapRev2({ cacheId: 1, cacheIndex: 300, bpp: 16, width: 32, height: 32, data: RLE_16BPP_32X32 });
    assert.equal(r.feed(ordersFastPath([cached])), false, 'caching draws nothing');
    assert.equal(r.feed(ordersFastPath([memBlt(1, 10, 4, 20, 10, 3, 2, 300)])), true);
    for (const [x, y] of [[0, 0], [19, 9], [7, 5]] as const) assert.deepEqual(px(r, 10 + x, 4 + y), testBitmap(3 + x, 2 + y), `(${x}, ${y})`);
    assert.deepEqual(px(r, 30, 4), BLACK, 'only 20 wide');
    // Same type (no type byte), only left and top present, as int8 deltas: +30, +20; the rest as before.
    const moved = primaryOrder({ type: 0x0d, sameType: true, delta: true, fieldBytes: 2, present: 0x006, fields: Buffer.from([30, 20]) });
    assert.equal(r.feed(ordersSlowPath([moved])), true);
    assert.deepEqual(px(r, 40, 24), testBitmap(3, 2));
    assert.deepEqual(px(r, 59, 33), testBitmap(22, 11));
    // Negative deltas: back by 40 and 24 (0xd8, 0xe8).
    r.feed(ordersFastPath([primaryOrder({ type: 0x0d, sameType: true, delta: true, fieldBytes: 2, present: 0x006, fields: Buffer.from([0xd8, 0xe8]) })]));
    assert.deepEqual(px(r, 0, 0), testBitmap(3, 2));
  });

  test('Cache Bitmap revision 1 (uncompressed), OpaqueRect within bounds, bounds kept for the next order', () => {
    const r = new RdpRenderer(64, 48);
    r.feed(demandActive(64, 48, 1003, 16));
    r.feed(ordersFastPath([cacheBitmapRev1({ cacheId: 0, cacheIndex: 9, bpp: 16, width: 2, height: 1, data: uncompressedRows([[RGB565.red, RGB565.green]], 16) }), memBlt(0, 20, 20, 2, 1, 0, 0, 9)]));
    assert.deepEqual([px(r, 20, 20), px(r, 21, 20)], [RED, GREEN]);
    // A full-screen red rectangle clipped to (2, 2)–(5, 3).
    r.feed(ordersFastPath([opaqueRect(0, 0, 64, 48, c16(RGB565.red), bounds(2, 2, 5, 3))]));
    assert.deepEqual([px(r, 2, 2), px(r, 5, 3), px(r, 6, 3), px(r, 1, 2), px(r, 2, 4)], [RED, RED, BLACK, BLACK, BLACK]);
    // TS_BOUNDS with zero deltas: the same bounds again, a blue rectangle only where they allow.
    r.feed(ordersFastPath([primaryOrder({ type: 0x0a, sameType: true, zeroBoundsDeltas: true, fieldBytes: 1, present: 0x70, fields: Buffer.from(c16(RGB565.blue)) })]));
    assert.deepEqual([px(r, 3, 3), px(r, 10, 10)], [BLUE, BLACK]);
    // No bounds: the whole rectangle.
    r.feed(ordersFastPath([opaqueRect(30, 30, 2, 2, c16(RGB565.white))]));
    assert.deepEqual([px(r, 31, 31), px(r, 32, 32)], [WHITE, BLACK]);
  });

  test('MultiOpaqueRect (delta rectangles, one negative), ScrBlt, DstBlt, PatBlt, LineTo', () => {
    const r = new RdpRenderer(64, 48);
    r.feed(demandActive(64, 48, 1003, 16));
    // Two rectangles: (40, 40) 3×2, then left −10 from it with top, width and height the same (zero bits 0x7).
    const deltas = Buffer.from([0x07, 0x28, 0x28, 0x03, 0x02, 0x76]);
    const multi = primaryOrder({ type: 0x12, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([i16(0), i16(0), i16(0), i16(0), Buffer.from(c16(RGB565.green)), Buffer.from([2]), u16(deltas.length), deltas]) });
    r.feed(ordersFastPath([multi]));
    assert.deepEqual([px(r, 40, 40), px(r, 42, 41), px(r, 30, 40), px(r, 32, 41), px(r, 43, 40), px(r, 35, 40)], [GREEN, GREEN, GREEN, GREEN, BLACK, BLACK]);
    // ScrBlt SRCCOPY (40, 40) 3×2 to (0, 44); DstBlt BLACKNESS at (40, 40).
    const scr = primaryOrder({ type: 0x02, fieldBytes: 1, present: 0x7f, fields: Buffer.concat([i16(0), i16(44), i16(3), i16(2), Buffer.from([0xcc]), i16(40), i16(40)]) });
    const dst = primaryOrder({ type: 0x00, fieldBytes: 1, present: 0x1f, fields: Buffer.concat([i16(40), i16(40), i16(1), i16(1), Buffer.from([0x00])]) });
    // PatBlt PATCOPY, a solid brush: its foreground colour (field 7), brush fields absent.
    const pat = primaryOrder({ type: 0x01, fieldBytes: 2, present: 0x07f, fields: Buffer.concat([i16(60), i16(0), i16(4), i16(4), Buffer.from([0xf0]), Buffer.from(c16(0)), Buffer.from(c16(RGB565.blue))]) });
    // LineTo with R2_COPYPEN, white, (0, 47) to (10, 47): the end point is not drawn.
    const line = primaryOrder({ type: 0x09, fieldBytes: 2, present: 0x3ff, fields: Buffer.concat([u16(1), i16(0), i16(47), i16(10), i16(47), Buffer.from([0, 0, 0]), Buffer.from([0x0d, 0, 1]), Buffer.from(c16(RGB565.white))]) });
    r.feed(ordersSlowPath([scr, dst, pat, line]));
    assert.deepEqual([px(r, 0, 44), px(r, 2, 45), px(r, 40, 40), px(r, 41, 40)], [GREEN, GREEN, BLACK, GREEN]);
    assert.deepEqual([px(r, 61, 1), px(r, 63, 3), px(r, 59, 1)], [BLUE, BLUE, BLACK]);
    assert.deepEqual([px(r, 0, 47), px(r, 9, 47), px(r, 10, 47), px(r, 5, 46)], [WHITE, WHITE, BLACK, BLACK]);
  });

  test('MultiPatBlt and MultiDstBlt: their raster operation over each delta rectangle', () => {
    const r = new RdpRenderer(32, 16);
    r.feed(demandActive(32, 16, 1003, 16));
    // Two 2×2 rectangles, (1, 1) and (5, 1): the second's top, width and height as the first's.
    const deltas = Buffer.from([0x07, 0x01, 0x01, 0x02, 0x02, 0x04]);
    const multiPat = primaryOrder({ type: 0x10, fieldBytes: 2, present: 0x307f, fields: Buffer.concat([i16(0), i16(0), i16(0), i16(0), Buffer.from([0xf0]), Buffer.from(c16(0)), Buffer.from(c16(RGB565.blue)), Buffer.from([2]), u16(deltas.length), deltas]) });
    r.feed(ordersFastPath([multiPat]));
    assert.deepEqual([px(r, 1, 1), px(r, 2, 2), px(r, 5, 1), px(r, 6, 2), px(r, 3, 1), px(r, 7, 1)], [BLUE, BLUE, BLUE, BLUE, BLACK, BLACK]);
    // DSTINVERT over the same two rectangles: blue becomes yellow.
    const multiDst = primaryOrder({ type: 0x0f, fieldBytes: 1, present: 0x70, fields: Buffer.concat([Buffer.from([0x55, 2]), u16(deltas.length), deltas]) });
    r.feed(ordersFastPath([multiDst]));
    assert.deepEqual([px(r, 1, 1), px(r, 6, 2), px(r, 3, 1)], [[255, 255, 0], [255, 255, 0], BLACK]);
  });

  test('at 32 bpp an order colour is red, green, blue bytes', () => {
    const r = new RdpRenderer(8, 8);
    r.feed(demandActive(8, 8, 1003, 32));
    r.feed(ordersFastPath([opaqueRect(0, 0, 1, 1, [0x10, 0x20, 0x30])]));
    assert.deepEqual(px(r, 0, 0), [0x10, 0x20, 0x30]);
  });

  test('glyph orders and cached glyphs are read through and counted; the order after them draws', () => {
    const r = new RdpRenderer(64, 48);
    r.feed(demandActive(64, 48, 1003, 16));
    // FastGlyph: cacheId and its variable bytes only (fields 1 and 15).
    const glyph = primaryOrder({ type: 0x18, fieldBytes: 2, present: 0x4001, fields: Buffer.from([0x07, 2, 0x01, 0x02]) });
    // GlyphIndex: every field.
    const glyphIndex = primaryOrder({
      type: 0x1b,
      fieldBytes: 3,
      present: 0x3fffff,
      fields: Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.alloc(6), ...[0, 0, 10, 10, 0, 0, 10, 10].map(i16), Buffer.from([0, 0, 0, 0]), Buffer.alloc(7), i16(1), i16(1), Buffer.from([3, 9, 9, 9])]),
    });
    const cacheGlyph = secondaryOrder(0x03, 0, Buffer.alloc(16, 0x11));
    r.feed(ordersFastPath([glyph, cacheGlyph, glyphIndex, opaqueRect(20, 30, 2, 2, c16(RGB565.white))]));
    assert.deepEqual(px(r, 21, 31), WHITE);
    assert.deepEqual(r.stats.ignored, { FastGlyph: 1, GlyphIndex: 1, glyph: 1 });
    assert.equal(r.stats.skipped, 0);
  });

  test('offscreen surfaces: created, drawn on (not shown), then MemBlt from cache id 0xff to the screen; frame markers pass', () => {
    const r = new RdpRenderer(64, 48);
    r.feed(demandActive(64, 48, 1003, 16));
    const create = altsecOrder(0x01, Buffer.concat([u16(3), u16(4), u16(4)]));
    const toOffscreen = altsecOrder(0x00, u16(3));
    const toScreen = altsecOrder(0x00, u16(0xffff));
    const marker = altsecOrder(0x0d, Buffer.alloc(4));
    assert.equal(r.feed(ordersFastPath([marker, create, toOffscreen, opaqueRect(0, 0, 4, 4, c16(RGB565.blue))])), false, 'nothing on the screen yet');
    assert.deepEqual(px(r, 0, 0), BLACK);
    assert.equal(r.feed(ordersFastPath([toScreen, memBlt(0xff, 56, 40, 4, 4, 0, 0, 3)])), true);
    assert.deepEqual([px(r, 56, 40), px(r, 59, 43), px(r, 55, 40)], [BLUE, BLUE, BLACK]);
    assert.equal(r.stats.skipped, 0);
  });

  test('a MemBlt of a bitmap never cached, or an unknown alternate secondary order: skipped and counted, drawing goes on', () => {
    const r = new RdpRenderer(16, 16);
    r.feed(demandActive(16, 16, 1003, 16));
    r.feed(ordersFastPath([memBlt(2, 0, 0, 4, 4, 0, 0, 77), opaqueRect(5, 5, 1, 1, c16(RGB565.red))]));
    assert.equal(r.stats.skipped, 1);
    assert.match(r.stats.problems[0]!, /never cached/);
    assert.deepEqual(px(r, 5, 5), RED);
    r.feed(ordersFastPath([altsecOrder(0x02, Buffer.alloc(8)), opaqueRect(6, 6, 1, 1, c16(RGB565.red))]));
    assert.deepEqual(px(r, 6, 6), BLACK, 'the rest of that update is lost');
    assert.equal(r.stats.ignored['alternate secondary order (rest of its update lost)'], 1);
  });
});
