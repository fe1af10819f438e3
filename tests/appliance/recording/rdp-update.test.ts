// The update parser and the renderer on frames built from MS-RDPBCGR: slow-path and fast-path bitmap
// updates land where they say, fragments join, a palette colours 8 bpp, a Demand Active sizes the desktop,
// and what is not drawn (licensing, virtual channels, orders, pointers, compressed or encrypted data) is
// counted, not misread as pictures.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RdpFrameSplitter, RdpGraphicsError, RdpRenderer, RdpUpdateParser, fitPicture } from '../../../appliance/recording/index.js';
import { RGB565, rgb565, bitmapUpdateData, channelData, demandActive, fastPathFragments, fastPathFrame, licenseValidClient, paletteUpdateData, slowPathUpdate, uncompressedRows } from '../../helpers/rdp-frames.js';
import { RAW_16BPP_32X32, RLE_16BPP_32X32 } from './rdp-vectors.js';

function px(r: RdpRenderer, x: number, y: number): number[] {
  const fb = r.framebuffer;
  const o = (y * fb.width + x) * 4;
  return [...fb.rgba.subarray(o, o + 3)];
}

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const BLACK = [0, 0, 0];

describe('RDP update parser and renderer', () => {
  test('a slow-path bitmap update (uncompressed, bottom-up) lands on its rectangle, clipped to its destination', () => {
    const r = new RdpRenderer(16, 8);
    // A 4-wide bitmap whose destination is only 3 wide (the fourth column is padding): red top row, blue below.
    const rows = [[RGB565.red, RGB565.red, RGB565.red, RGB565.green], [RGB565.blue, RGB565.blue, RGB565.blue, RGB565.green]];
    assert.equal(r.feed(slowPathUpdate(bitmapUpdateData([{ left: 2, top: 1, width: 4, height: 2, destWidth: 3, bpp: 16, data: uncompressedRows(rows, 16) }]))), true);
    assert.deepEqual([px(r, 2, 1), px(r, 4, 1), px(r, 2, 2), px(r, 5, 1), px(r, 1, 1), px(r, 2, 0)], [RED, RED, BLUE, BLACK, BLACK, BLACK]);
    assert.equal(r.stats.rects, 1);
  });

  test('fast-path: an RLE bitmap (with a TS_CD_HEADER) in one frame, a planar one in fragments over three frames', () => {
    const r = new RdpRenderer(64, 40);
    const rle = bitmapUpdateData([{ left: 0, top: 0, width: 32, height: 32, bpp: 16, compressed: true, cdHeader: true, data: RLE_16BPP_32X32 }]);
    assert.equal(r.feed(fastPathFrame([{ code: 1, data: rle }])), true);
    // The raw test bitmap is bottom-up: its first row is the picture's row 31.
    for (const [x, y] of [[0, 31], [5, 31], [0, 0], [31, 0], [13, 17]] as const) {
      const v = RAW_16BPP_32X32.readUInt16LE(((31 - y) * 32 + x) * 2);
      assert.deepEqual(px(r, x, y), rgb565(v), `(${x}, ${y})`);
    }
    // Planar, raw planes, NA: 4×2 all green, sent in three fragments; nothing drawn before the last.
    const planes = Buffer.concat([Buffer.from([0x20]), Buffer.alloc(8, 0), Buffer.alloc(8, 0xff), Buffer.alloc(8, 0), Buffer.from([0])]);
    const frames = fastPathFragments(1, bitmapUpdateData([{ left: 40, top: 35, width: 4, height: 2, bpp: 32, compressed: true, data: planes }]), 20);
    assert.equal(frames.length, 3);
    assert.equal(r.feed(frames[0]!), false);
    assert.equal(r.feed(frames[1]!), false);
    assert.deepEqual(px(r, 40, 35), BLACK);
    assert.equal(r.feed(frames[2]!), true);
    assert.deepEqual([px(r, 40, 35), px(r, 43, 36), px(r, 44, 36)], [GREEN, GREEN, BLACK]);
  });

  test('a stream cut anywhere (one byte at a time, or frames run together) splits into the same frames', () => {
    const stream = Buffer.concat([licenseValidClient(), demandActive(32, 16), fastPathFrame([{ code: 1, data: bitmapUpdateData([{ left: 0, top: 0, width: 2, height: 1, bpp: 16, data: uncompressedRows([[RGB565.red, RGB565.red]], 16) }]) }])]);
    const s = new RdpFrameSplitter();
    const one: Buffer[] = [];
    for (const b of stream) one.push(...s.push(Buffer.from([b])));
    assert.equal(one.length, 3);
    assert.deepEqual(Buffer.concat(one), stream);
    assert.equal(new RdpFrameSplitter().push(stream).length, 3);
    assert.throws(() => new RdpFrameSplitter().push(Buffer.from([0x01, 0x05, 0, 0, 0])), RdpGraphicsError);
    const r = new RdpRenderer(8, 8);
    r.feed(stream.subarray(0, 10));
    r.feed(stream.subarray(10));
    assert.deepEqual([r.framebuffer.width, r.framebuffer.height], [32, 16], 'the Demand Active resized the desktop');
    assert.deepEqual(px(r, 1, 0), RED);
  });

  test('a palette update colours later 8 bpp bitmaps', () => {
    const r = new RdpRenderer(4, 4);
    r.feed(slowPathUpdate(paletteUpdateData([[0, 0, 0], [10, 20, 30], [200, 100, 50]])));
    r.feed(slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 2, height: 1, bpp: 8, data: Buffer.from([1, 2]) }])));
    assert.deepEqual([px(r, 0, 0), px(r, 1, 0)], [[10, 20, 30], [200, 100, 50]]);
    const fast = new RdpRenderer(4, 4);
    fast.feed(fastPathFrame([{ code: 2, data: paletteUpdateData([[0, 0, 0], [9, 8, 7]]) }]));
    fast.feed(fastPathFrame([{ code: 1, data: bitmapUpdateData([{ left: 0, top: 0, width: 1, height: 1, bpp: 8, data: Buffer.from([1]) }]) }]));
    assert.deepEqual(px(fast, 0, 0), [9, 8, 7]);
  });

  test('surface bits without a codec are drawn (bottom-up, 32 bpp); with a codec they are counted', () => {
    const r = new RdpRenderer(8, 8);
    const bits = Buffer.from([0, 0, 0xff, 0, 0xff, 0, 0, 0]); // 1×2: red then blue, bottom-up
    const cmd = (codec: number) => Buffer.concat([Buffer.from([1, 0, 3, 0, 4, 0, 4, 0, 6, 0]), Buffer.from([32, 0, 0, codec, 1, 0, 2, 0]), Buffer.from([8, 0, 0, 0]), bits]);
    const marker = Buffer.from([4, 0, 0, 0, 1, 0, 0, 0]);
    assert.equal(r.feed(fastPathFrame([{ code: 4, data: Buffer.concat([marker, cmd(0), cmd(3)]) }])), true);
    assert.deepEqual([px(r, 3, 4), px(r, 3, 5)], [BLUE, RED]);
    assert.equal(r.stats.ignored['surface bits with a codec'], 1);
  });

  test('passed over and counted, never drawn: licensing, virtual channels, unknown orders, pointers, bulk-compressed and encrypted data, orphan fragments', () => {
    const r = new RdpRenderer(8, 8);
    const red = bitmapUpdateData([{ left: 0, top: 0, width: 1, height: 1, bpp: 16, data: uncompressedRows([[RGB565.red]], 16) }]);
    const frames = [
      licenseValidClient(),
      demandActive(8, 8, 1003),
      // The I/O channel is now 1003: the same update on a virtual channel is not a picture.
      slowPathUpdate(red, { channel: 1004 }),
      channelData(1004, Buffer.from('clipboard')),
      slowPathUpdate(Buffer.from([0, 0, 0, 0, 1, 0, 0, 0, 0x0a])),
      slowPathUpdate(red, { compressedType: 0x20 }),
      fastPathFrame([{ code: 0, data: Buffer.from([1, 0, 0x0a]) }, { code: 5, data: Buffer.alloc(0) }, { code: 0xb, data: Buffer.alloc(4) }]),
      fastPathFrame([{ code: 1, data: red }], 0x80),
      fastPathFrame([{ code: 1, data: red.subarray(0, 4), fragmentation: 3 }]),
      fastPathFrame([{ code: 1, data: red.subarray(4), fragmentation: 1 }]),
    ];
    for (const f of frames) assert.equal(r.feed(f), false);
    assert.deepEqual(px(r, 0, 0), BLACK);
    assert.deepEqual(r.stats.ignored, {
      licensing: 1,
      'virtual channel data': 2,
      'alternate secondary order (rest of its update lost)': 2,
      'bulk-compressed update': 1,
      pointer: 2,
      'encrypted fast-path': 1,
      'orphan fast-path fragment': 2,
    });
    assert.equal(r.stats.skipped, 0);
    assert.equal(r.feed(slowPathUpdate(red)), true, 'and the I/O channel still draws');
  });

  test('a malformed frame is skipped with its reason; the next one draws', () => {
    const r = new RdpRenderer(8, 8);
    const good = slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 1, height: 1, bpp: 16, data: uncompressedRows([[RGB565.green]], 16) }]));
    const bad = Buffer.from(good);
    bad.writeUInt16LE(0xffff, bad.length - 4); // bitmapLength far past the end
    assert.equal(r.feed(bad), false);
    assert.equal(r.stats.skipped, 1);
    assert.match(r.stats.problems[0]!, /runs past the end/);
    assert.equal(r.feed(good), true);
    // A frame whose length claims more than ever comes: the next record, whole frames by itself, drops it.
    const cut = Buffer.from(good);
    cut.writeUInt16BE(0x7000, 2);
    assert.equal(r.feed(cut), false);
    assert.equal(r.feed(good), true);
    assert.equal(r.stats.ignored['bytes of frames cut short'], cut.length);
    assert.throws(() => new RdpUpdateParser().parse(demandActive(9000, 100)), /a desktop of 9000×100/);
  });

  test('a picture fitted to the film: cropped where larger, padded black where smaller', () => {
    const src = Buffer.from([1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255]); // 2×2
    assert.deepEqual([...fitPicture(src, 2, 2, 1, 1)], [1, 2, 3, 255]);
    assert.deepEqual([...fitPicture(src, 2, 2, 3, 1)], [1, 2, 3, 255, 4, 5, 6, 255, 0, 0, 0, 255]);
    assert.deepEqual([...fitPicture(src, 2, 2, 1, 3)], [1, 2, 3, 255, 7, 8, 9, 255, 0, 0, 0, 255]);
  });
});
