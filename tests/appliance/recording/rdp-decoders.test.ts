// The RDP bitmap decoders against published examples (MS-RDPEGDI's 32×32 16 bpp test bitmap for
// interleaved RLE; its 6×3 and 100-wide planes for RDP 6.0 RLE; FreeRDP's 64×64 planes) and against answers
// worked out by hand from the specification's rules (no encoder of ours is involved anywhere).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RdpGraphicsError, decodeBitmap, decodeInterleaved, decodeInterleavedPixels, decodePlanar, decodePlaneRle, decodeUncompressed } from '../../../appliance/recording/index.js';
import { GREEN_PLANE_64X64, GREEN_PLANE_64X64_RLE, RAW_16BPP_32X32, RED_PLANE_64X64, RED_PLANE_64X64_RLE, RLE_16BPP_32X32 } from './rdp-vectors.js';

/** RGBA pixel (x, y) of a top-down picture `width` wide, as [r, g, b]. */
function px(rgba: Uint8Array, width: number, x: number, y: number): number[] {
  const o = (y * width + x) * 4;
  assert.equal(rgba[o + 3], 0xff, 'opaque');
  return [rgba[o]!, rgba[o + 1]!, rgba[o + 2]!];
}

/** The MS-RDPEGDI 6×3 plane (3.1.9.2.3, "Decoding Run-Length Sequences") and its values, scanlines in wire order. */
const SPEC_PLANE = Buffer.from([0x13, 0xff, 0x20, 0xfe, 0xfd, 0x60, 0x01, 0x7d, 0xf5, 0xc2, 0x9a, 0x38, 0x60, 0x01, 0x67, 0x8b, 0xa3, 0x78, 0xaf]);
const SPEC_PLANE_VALUES = [255, 255, 255, 255, 254, 253, 254, 192, 132, 96, 75, 25, 253, 140, 62, 14, 135, 193];

describe('interleaved RLE (MS-RDPBCGR 2.2.9.1.1.3.1.2.4)', () => {
  test("MS-RDPEGDI's 32×32 16 bpp test bitmap decodes to its uncompressed form, pixel for pixel", () => {
    const values = decodeInterleavedPixels(RLE_16BPP_32X32, 32, 32, 16);
    const expected = Array.from({ length: 1024 }, (_, i) => RAW_16BPP_32X32.readUInt16LE(i * 2));
    assert.deepEqual([...values], expected);
    // And as pictures: both are bottom-up, so the RLE and the raw bitmap give the same RGBA top-down.
    assert.deepEqual(decodeInterleaved(RLE_16BPP_32X32, 32, 32, 16), decodeUncompressed(RAW_16BPP_32X32, 32, 32, 16));
    assert.deepEqual(decodeBitmap({ width: 32, height: 32, bpp: 16, compressed: true, data: RLE_16BPP_32X32 }), decodeUncompressed(RAW_16BPP_32X32, 32, 32, 16));
  });

  test('each order as the specification defines it (8 bpp, worked by hand)', () => {
    const dec = (bytes: number[], w: number, h: number, bpp = 8) => [...decodeInterleavedPixels(Buffer.from(bytes), w, h, bpp)];
    // REGULAR_COLOR_RUN of 3 (0x63) of colour 7.
    assert.deepEqual(dec([0x63, 0x07], 3, 1), [7, 7, 7]);
    // SPECIAL_WHITE, SPECIAL_BLACK.
    assert.deepEqual(dec([0xfd, 0xfe], 2, 1), [0xff, 0]);
    // Two background runs in a row: the second starts with one foreground pixel (white by default).
    assert.deepEqual(dec([0x02, 0x02], 4, 1), [0, 0, 0xff, 0]);
    // ... but not across the end of the first scanline: the flag is cleared there.
    assert.deepEqual(dec([0x02, 0x02], 2, 2), [0, 0, 0, 0]);
    // A background run on the second line copies the line above.
    assert.deepEqual(dec([0x82, 0x0f, 0xf0, 0x02], 2, 2), [0x0f, 0xf0, 0x0f, 0xf0]);
    // LITE_SET_FG_FGBG_IMAGE of 8 (0xd1): foreground 0x55, mask 0xa5 read LSB first, on the first line.
    assert.deepEqual(dec([0xd1, 0x55, 0xa5], 8, 1), [0x55, 0, 0x55, 0, 0, 0x55, 0, 0x55]);
    // LITE_DITHERED_RUN of 1 pair (0xe1): 1, 2.
    assert.deepEqual(dec([0xe1, 0x01, 0x02], 2, 1), [1, 2]);
    // A foreground run on the second line is the pixel above XOR the foreground (white).
    assert.deepEqual(dec([0x82, 0x0f, 0xf0, 0x22], 2, 2), [0x0f, 0xf0, 0xf0, 0x0f]);
    // MEGA_MEGA_COLOR_IMAGE of 2 at 24 bpp: little-endian pixels.
    assert.deepEqual(dec([0xf4, 0x02, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06], 2, 1, 24), [0x030201, 0x060504]);
    // REGULAR_BG_RUN with its length in the next byte (0x00, n = 32 + 1).
    assert.deepEqual(dec([0x00, 0x01], 33, 1), Array(33).fill(0));
    // SPECIAL_FGBG_1 (mask 0x03) over a second line: above XOR fg where set, above elsewhere.
    assert.deepEqual(dec([0x68, 0x11, 0xf9], 8, 2).slice(8), [0xee, 0xee, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
  });

  test('depth conversions: 15 and 16 bpp expand their channels, 24 bpp is B, G, R; the wire\'s first row is the bottom one', () => {
    // 2×2 at 16 bpp: wire rows bottom-up: [blue, white], then [red, green].
    const rgba16 = decodeInterleaved(Buffer.from([0x84, 0x1f, 0x00, 0xff, 0xff, 0x00, 0xf8, 0xe0, 0x07]), 2, 2, 16);
    assert.deepEqual([px(rgba16, 2, 0, 0), px(rgba16, 2, 1, 0), px(rgba16, 2, 0, 1), px(rgba16, 2, 1, 1)], [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]);
    const rgba15 = decodeInterleaved(Buffer.from([0x82, 0x00, 0x7c, 0x10, 0x42]), 2, 1, 15);
    assert.deepEqual([px(rgba15, 2, 0, 0), px(rgba15, 2, 1, 0)], [[255, 0, 0], [132, 132, 132]]);
    const rgba24 = decodeInterleaved(Buffer.from([0x81, 0x30, 0x20, 0x10]), 1, 1, 24);
    assert.deepEqual(px(rgba24, 1, 0, 0), [0x10, 0x20, 0x30]);
  });

  test('a malformed stream throws RdpGraphicsError: overrun of the bitmap, of the data, an unknown order', () => {
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0x65, 0x07]), 2, 2, 8), RdpGraphicsError);
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0x83, 0x01]), 3, 1, 8), RdpGraphicsError);
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0xa0]), 3, 1, 8), RdpGraphicsError);
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0xf4, 0xff, 0xff]), 3, 1, 8), RdpGraphicsError);
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0x63, 0x07]), 0, 1, 8), RdpGraphicsError);
    assert.throws(() => decodeInterleavedPixels(Buffer.from([0x63, 0x07]), 3, 1, 32), RdpGraphicsError);
  });
});

describe('RDP 6.0 planar (MS-RDPEGDI 2.2.2.5.1)', () => {
  test("the specification's 6×3 RLE plane decodes to its values (absolute first scanline, then deltas)", () => {
    const out = new Uint8Array(18);
    assert.equal(decodePlaneRle(SPEC_PLANE, 0, 6, 3, out), SPEC_PLANE.length);
    assert.deepEqual([...out], SPEC_PLANE_VALUES);
  });

  test('a planar bitmap with RLE planes (RLE | NA) is that plane in R, G and B, the wire\'s first scanline at the bottom', () => {
    const rgba = decodePlanar(Buffer.concat([Buffer.from([0x30]), SPEC_PLANE, SPEC_PLANE, SPEC_PLANE]), 6, 3);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 6; x++) {
        const v = SPEC_PLANE_VALUES[(2 - y) * 6 + x]!;
        assert.deepEqual(px(rgba, 6, x, y), [v, v, v], `(${x}, ${y})`);
      }
    }
    assert.deepEqual(decodeBitmap({ width: 6, height: 3, bpp: 32, compressed: true, data: Buffer.concat([Buffer.from([0x30]), SPEC_PLANE, SPEC_PLANE, SPEC_PLANE]) }), rgba);
  });

  test("the specification's long run (3.1.9.2.2: 0x1F 0x41 0xF2 0x52) is 100 × 0x41; planes differ per channel", () => {
    const long = Buffer.from([0x1f, 0x41, 0xf2, 0x52]);
    // Runs with nothing raw before them repeat zero: 47 + 47 + 6 = 100; with 37 at the end, past the scanline.
    const zeros = Buffer.from([0xf2, 0xf2, 0x06]);
    const tooLong = Buffer.from([0xf2, 0xf2, 0x52]);
    const out = new Uint8Array(100);
    assert.equal(decodePlaneRle(long, 0, 100, 1, out), 4);
    assert.deepEqual([...out], Array(100).fill(0x41));
    assert.throws(() => decodePlaneRle(tooLong, 0, 100, 1, new Uint8Array(100)), RdpGraphicsError, 'a segment past the end of its scanline');
    const rgba = decodePlanar(Buffer.concat([Buffer.from([0x30]), long, zeros, long]), 100, 1);
    assert.deepEqual(px(rgba, 100, 99, 0), [0x41, 0, 0x41]);
  });

  test("FreeRDP's 64×64 colour planes decode from their RLE encodings", () => {
    for (const [rle, plane] of [[RED_PLANE_64X64_RLE, RED_PLANE_64X64], [GREEN_PLANE_64X64_RLE, GREEN_PLANE_64X64]] as const) {
      const out = new Uint8Array(64 * 64);
      assert.equal(decodePlaneRle(rle, 0, 64, 64, out), rle.length);
      assert.deepEqual(Buffer.from(out), plane);
    }
  });

  test('raw planes: alpha (read past: the screen is opaque), red, green, blue, and the pad byte', () => {
    const rgba = decodePlanar(Buffer.from([0x00, 0x40, 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x00]), 2, 1);
    assert.deepEqual([px(rgba, 2, 0, 0), px(rgba, 2, 1, 0)], [[0x11, 0x33, 0x55], [0x22, 0x44, 0x66]]);
    // 1×2 with NA: rows bottom-up here too.
    const tall = decodePlanar(Buffer.from([0x20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x00]), 1, 2);
    assert.deepEqual([px(tall, 1, 0, 0), px(tall, 1, 0, 1)], [[0x02, 0x04, 0x06], [0x01, 0x03, 0x05]]);
  });

  test('refused with RdpGraphicsError: AYCoCg forms, cut planes', () => {
    assert.throws(() => decodePlanar(Buffer.concat([Buffer.from([0x33]), SPEC_PLANE, SPEC_PLANE, SPEC_PLANE]), 6, 3), /AYCoCg/);
    assert.throws(() => decodePlanar(Buffer.concat([Buffer.from([0x30]), SPEC_PLANE, SPEC_PLANE]), 6, 3), RdpGraphicsError);
    assert.throws(() => decodePlanar(Buffer.from([0x20, 1, 2, 3]), 2, 1), RdpGraphicsError);
    assert.throws(() => decodePlanar(Buffer.alloc(0), 2, 1), RdpGraphicsError);
  });
});

describe('uncompressed bitmaps (MS-RDPBCGR 2.2.9.1.1.3.1.2.2)', () => {
  test('rows bottom-up at every depth; 8 bpp through the palette; 32 bpp ignores its fourth byte', () => {
    // 2×2 at 16 bpp: the wire's first row is the picture's bottom row.
    const rgba = decodeUncompressed(Buffer.from([0x1f, 0x00, 0x1f, 0x00, 0x00, 0xf8, 0xe0, 0x07]), 2, 2, 16);
    assert.deepEqual([px(rgba, 2, 0, 0), px(rgba, 2, 1, 0), px(rgba, 2, 0, 1), px(rgba, 2, 1, 1)], [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 255]]);
    const rgba24 = decodeUncompressed(Buffer.from([0x00, 0x00, 0xff, 0xff, 0x00, 0x00]), 1, 2, 24);
    assert.deepEqual([px(rgba24, 1, 0, 0), px(rgba24, 1, 0, 1)], [[0, 0, 255], [255, 0, 0]]);
    const rgba32 = decodeUncompressed(Buffer.from([0x10, 0x20, 0x30, 0x00]), 1, 1, 32);
    assert.deepEqual(px(rgba32, 1, 0, 0), [0x30, 0x20, 0x10]);
    const palette = new Uint8Array(256 * 3);
    palette.set([1, 2, 3], 5 * 3);
    assert.deepEqual(px(decodeUncompressed(Buffer.from([5]), 1, 1, 8, palette), 1, 0, 0), [1, 2, 3]);
    assert.deepEqual(px(decodeUncompressed(Buffer.from([0x00, 0x7c]), 1, 1, 15), 1, 0, 0), [255, 0, 0]);
  });

  test('rows padded to four bytes are told apart by the length', () => {
    // 1×2 at 24 bpp: 3-byte rows, or 4 with padding.
    const padded = decodeUncompressed(Buffer.from([0x00, 0x00, 0xff, 0xee, 0xff, 0x00, 0x00, 0xee]), 1, 2, 24);
    assert.deepEqual([px(padded, 1, 0, 0), px(padded, 1, 0, 1)], [[0, 0, 255], [255, 0, 0]]);
  });

  test('too short, or an impossible size or depth: RdpGraphicsError', () => {
    assert.throws(() => decodeUncompressed(Buffer.alloc(7), 2, 2, 16), RdpGraphicsError);
    assert.throws(() => decodeUncompressed(Buffer.alloc(8), 2, 2, 12), RdpGraphicsError);
    assert.throws(() => decodeUncompressed(Buffer.alloc(8), 65535, 65535, 16), RdpGraphicsError);
  });
});
