// The bitmap codecs of RDP bitmap updates, decoded to RGBA rows top-down:
//  - uncompressed (MS-RDPBCGR 2.2.9.1.1.3.1.2.2), rows bottom-up, 8 (palette), 15, 16, 24, 32 bpp;
//  - interleaved RLE (MS-RDPBCGR 2.2.9.1.1.3.1.2.4, RLE_BITMAP_STREAM), 8, 15, 16 and 24 bpp, rows bottom-up;
//  - RDP 6.0 planar (MS-RDPEGDI 2.2.2.5.1, RDP6_BITMAP_STREAM), the 32 bpp compressed form, rows bottom-up.
// Input is untrusted (a recording of what a target sent): every read and write is bounds-checked and a
// malformed bitmap throws RdpGraphicsError, nothing else; the caller skips that rectangle.

/** A bitmap or update the renderer cannot use: malformed, or a form it does not decode. */
export class RdpGraphicsError extends Error {
  override readonly name = 'RdpGraphicsError';
}

/** The largest bitmap one rectangle may carry (the protocol's u16 sizes allow 4 G pixels). */
export const MAX_BITMAP_PIXELS = 4096 * 4096;

export type Palette = Uint8Array; // 256 × (r, g, b)

export function defaultPalette(): Palette {
  // Before the target sends one: a grey ramp, so an 8 bpp picture is at least legible.
  const p = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) p[i * 3] = p[i * 3 + 1] = p[i * 3 + 2] = i;
  return p;
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width * height > MAX_BITMAP_PIXELS) {
    throw new RdpGraphicsError(`a bitmap of ${width}×${height} pixels`);
  }
}

export function bytesPerPixel(bpp: number): number {
  switch (bpp) {
    case 8:
      return 1;
    case 15:
    case 16:
      return 2;
    case 24:
      return 3;
    case 32:
      return 4;
    default:
      throw new RdpGraphicsError(`${bpp} bits per pixel`);
  }
}

/** Write one pixel value of the given depth as RGBA at `o`. */
function putPixel(out: Uint8Array, o: number, v: number, bpp: number, palette: Palette): void {
  switch (bpp) {
    case 8: {
      const p = (v & 0xff) * 3;
      out[o] = palette[p]!;
      out[o + 1] = palette[p + 1]!;
      out[o + 2] = palette[p + 2]!;
      break;
    }
    case 15: {
      const r = (v >> 10) & 0x1f;
      const g = (v >> 5) & 0x1f;
      const b = v & 0x1f;
      out[o] = (r << 3) | (r >> 2);
      out[o + 1] = (g << 3) | (g >> 2);
      out[o + 2] = (b << 3) | (b >> 2);
      break;
    }
    case 16: {
      const r = (v >> 11) & 0x1f;
      const g = (v >> 5) & 0x3f;
      const b = v & 0x1f;
      out[o] = (r << 3) | (r >> 2);
      // Green's six bits widened as FreeRDP widens them (+ g/8, at most 255), not by bit replication: the
      // picture then matches, pixel for pixel, what the FreeRDP client showed (the reference the tests use).
      out[o + 1] = Math.min((g << 2) + (g >> 3), 255);
      out[o + 2] = (b << 3) | (b >> 2);
      break;
    }
    default: // 24 and 32: little-endian B, G, R
      out[o] = (v >> 16) & 0xff;
      out[o + 1] = (v >> 8) & 0xff;
      out[o + 2] = v & 0xff;
  }
  out[o + 3] = 0xff;
}

/** One pixel value of the given depth as RGBA into `out` (4 bytes). */
export function pixelsToRgbaInto(out: Uint8Array, v: number, bpp: number, palette: Palette): void {
  putPixel(out, 0, v, bpp, palette);
}

/** Pixel values in wire order (the first row sent first) to RGBA top-down: the wire's first row is the bottom one. */
export function pixelsToRgba(values: Uint32Array, width: number, height: number, bpp: number, palette: Palette = defaultPalette()): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let row = 0; row < height; row++) {
    const src = row * width;
    let o = (height - 1 - row) * width * 4;
    for (let x = 0; x < width; x++, o += 4) putPixel(out, o, values[src + x]!, bpp, palette);
  }
  return out;
}

/**
 * An uncompressed bitmap: rows bottom-up, each width × bytes-per-pixel long (or padded to 4 bytes, which
 * the length tells apart).
 */
export function decodeUncompressed(src: Uint8Array, width: number, height: number, bpp: number, palette: Palette = defaultPalette()): Uint8Array {
  checkSize(width, height);
  const bpx = bytesPerPixel(bpp);
  const tight = width * bpx;
  const padded = (tight + 3) & ~3;
  const stride = src.length >= tight * height && src.length !== padded * height ? tight : padded;
  if (src.length < stride * height) throw new RdpGraphicsError(`an uncompressed ${width}×${height}×${bpp} bitmap of ${src.length} bytes`);
  const out = new Uint8Array(width * height * 4);
  for (let row = 0; row < height; row++) {
    let s = row * stride;
    let o = (height - 1 - row) * width * 4;
    for (let x = 0; x < width; x++, s += bpx, o += 4) {
      let v = src[s]!;
      if (bpx > 1) v |= src[s + 1]! << 8;
      if (bpx > 2) v |= src[s + 2]! << 16;
      putPixel(out, o, v, bpp, palette);
    }
  }
  return out;
}

// Interleaved RLE order codes (MS-RDPBCGR 2.2.9.1.1.3.1.2.4).
const REGULAR_BG_RUN = 0x0;
const REGULAR_FG_RUN = 0x1;
const REGULAR_FGBG_IMAGE = 0x2;
const REGULAR_COLOR_RUN = 0x3;
const REGULAR_COLOR_IMAGE = 0x4;
const LITE_SET_FG_FG_RUN = 0xc;
const LITE_SET_FG_FGBG_IMAGE = 0xd;
const LITE_DITHERED_RUN = 0xe;
const MEGA_MEGA_BG_RUN = 0xf0;
const MEGA_MEGA_FG_RUN = 0xf1;
const MEGA_MEGA_FGBG_IMAGE = 0xf2;
const MEGA_MEGA_COLOR_RUN = 0xf3;
const MEGA_MEGA_COLOR_IMAGE = 0xf4;
const MEGA_MEGA_SET_FG_RUN = 0xf6;
const MEGA_MEGA_SET_FGBG_IMAGE = 0xf7;
const MEGA_MEGA_DITHERED_RUN = 0xf8;
const SPECIAL_FGBG_1 = 0xf9;
const SPECIAL_FGBG_2 = 0xfa;
const SPECIAL_WHITE = 0xfd;
const SPECIAL_BLACK = 0xfe;

/**
 * Interleaved RLE to pixel values in wire order (bottom row first), as the specification's decoder
 * (RleDecompress) leaves them: a background pixel is the pixel above (black on the first row), a foreground
 * pixel the pixel above XOR the foreground colour, and a background run that follows another background run
 * starts with one foreground pixel.
 */
export function decodeInterleavedPixels(src: Uint8Array, width: number, height: number, bpp: number): Uint32Array {
  checkSize(width, height);
  if (bpp !== 8 && bpp !== 15 && bpp !== 16 && bpp !== 24) throw new RdpGraphicsError(`interleaved RLE at ${bpp} bpp`);
  const bpx = bytesPerPixel(bpp);
  const white = bpp === 8 ? 0xff : bpp === 15 ? 0x7fff : bpp === 16 ? 0xffff : 0xffffff;
  const total = width * height;
  const out = new Uint32Array(total);
  let s = 0;
  let d = 0;
  let fg = white;
  let insertFg = false;
  let firstLine = true;

  const byte = (): number => {
    if (s >= src.length) throw new RdpGraphicsError('an RLE order runs past the end of the bitmap data');
    return src[s++]!;
  };
  const pixel = (): number => {
    if (s + bpx > src.length) throw new RdpGraphicsError('an RLE order runs past the end of the bitmap data');
    let v = src[s]!;
    if (bpx > 1) v |= src[s + 1]! << 8;
    if (bpx > 2) v |= src[s + 2]! << 16;
    s += bpx;
    return v;
  };
  const room = (n: number): void => {
    if (d + n > total) throw new RdpGraphicsError('an RLE order writes past the end of the bitmap');
  };
  // The first row has no row above: the specification's decoder writes black there for the whole order
  // that started on it, even where the order runs on into the second row.
  const up = (): number => (firstLine ? 0 : out[d - width]!);
  const fgbg = (mask: number, n: number): void => {
    room(n);
    for (let bit = 0; bit < n; bit++) {
      const a = up();
      out[d++] = mask & (1 << bit) ? a ^ fg : a;
    }
  };

  while (s < src.length) {
    if (firstLine && d >= width) {
      firstLine = false;
      insertFg = false;
    }
    const hdr = src[s]!;
    const code = (hdr & 0xc0) !== 0xc0 ? hdr >> 5 : (hdr & 0xf0) === 0xf0 ? hdr : hdr >> 4;
    let n: number;
    s++;
    switch (code) {
      case REGULAR_FGBG_IMAGE:
        n = hdr & 0x1f;
        n = n === 0 ? byte() + 1 : n * 8;
        break;
      case LITE_SET_FG_FGBG_IMAGE:
        n = hdr & 0x0f;
        n = n === 0 ? byte() + 1 : n * 8;
        break;
      case REGULAR_BG_RUN:
      case REGULAR_FG_RUN:
      case REGULAR_COLOR_RUN:
      case REGULAR_COLOR_IMAGE:
        n = hdr & 0x1f;
        if (n === 0) n = byte() + 32;
        break;
      case LITE_SET_FG_FG_RUN:
      case LITE_DITHERED_RUN:
        n = hdr & 0x0f;
        if (n === 0) n = byte() + 16;
        break;
      case MEGA_MEGA_BG_RUN:
      case MEGA_MEGA_FG_RUN:
      case MEGA_MEGA_FGBG_IMAGE:
      case MEGA_MEGA_COLOR_RUN:
      case MEGA_MEGA_COLOR_IMAGE:
      case MEGA_MEGA_SET_FG_RUN:
      case MEGA_MEGA_SET_FGBG_IMAGE:
      case MEGA_MEGA_DITHERED_RUN:
        n = byte();
        n |= byte() << 8;
        break;
      case SPECIAL_FGBG_1:
      case SPECIAL_FGBG_2:
        n = 8;
        break;
      case SPECIAL_WHITE:
      case SPECIAL_BLACK:
        n = 1;
        break;
      default:
        throw new RdpGraphicsError(`unknown RLE order 0x${hdr.toString(16)}`);
    }

    if (code === REGULAR_BG_RUN || code === MEGA_MEGA_BG_RUN) {
      room(Math.max(n, 1));
      if (insertFg) {
        out[d] = up() ^ fg;
        d++;
        n--;
      }
      for (; n > 0; n--, d++) out[d] = up();
      insertFg = true;
      continue;
    }
    insertFg = false;
    switch (code) {
      case REGULAR_FG_RUN:
      case MEGA_MEGA_FG_RUN:
      case LITE_SET_FG_FG_RUN:
      case MEGA_MEGA_SET_FG_RUN:
        if (code === LITE_SET_FG_FG_RUN || code === MEGA_MEGA_SET_FG_RUN) fg = pixel();
        room(n);
        for (; n > 0; n--, d++) out[d] = up() ^ fg;
        break;
      case LITE_DITHERED_RUN:
      case MEGA_MEGA_DITHERED_RUN: {
        const a = pixel();
        const b = pixel();
        room(n * 2);
        for (; n > 0; n--) {
          out[d++] = a;
          out[d++] = b;
        }
        break;
      }
      case REGULAR_COLOR_RUN:
      case MEGA_MEGA_COLOR_RUN: {
        const c = pixel();
        room(n);
        for (; n > 0; n--) out[d++] = c;
        break;
      }
      case REGULAR_FGBG_IMAGE:
      case MEGA_MEGA_FGBG_IMAGE:
      case LITE_SET_FG_FGBG_IMAGE:
      case MEGA_MEGA_SET_FGBG_IMAGE:
        if (code === LITE_SET_FG_FGBG_IMAGE || code === MEGA_MEGA_SET_FGBG_IMAGE) fg = pixel();
        while (n > 8) {
          fgbg(byte(), 8);
          n -= 8;
        }
        if (n > 0) fgbg(byte(), n);
        break;
      case REGULAR_COLOR_IMAGE:
      case MEGA_MEGA_COLOR_IMAGE:
        room(n);
        for (; n > 0; n--) out[d++] = pixel();
        break;
      case SPECIAL_FGBG_1:
        fgbg(0x03, 8);
        break;
      case SPECIAL_FGBG_2:
        fgbg(0x05, 8);
        break;
      case SPECIAL_WHITE:
        room(1);
        out[d++] = white;
        break;
      case SPECIAL_BLACK:
        room(1);
        out[d++] = 0;
        break;
    }
  }
  return out;
}

export function decodeInterleaved(src: Uint8Array, width: number, height: number, bpp: number, palette: Palette = defaultPalette()): Uint8Array {
  return pixelsToRgba(decodeInterleavedPixels(src, width, height, bpp), width, height, bpp, palette);
}

// RDP6_BITMAP_STREAM format header bits (MS-RDPEGDI 2.2.2.5.1).
const PLANAR_CLL_MASK = 0x07;
const PLANAR_CS = 0x08;
const PLANAR_RLE = 0x10;
const PLANAR_NA = 0x20;

/**
 * One RLE-compressed plane (RDP6_RLE_SEGMENTS, MS-RDPEGDI 3.1.9.2), in wire order; returns the bytes read.
 * The first scanline holds values, the others deltas from the scanline before (sign in the low bit).
 */
export function decodePlaneRle(src: Uint8Array, start: number, width: number, height: number, out: Uint8Array): number {
  let s = start;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    // Within a scanline a run repeats the last raw value (or delta); each scanline starts from zero.
    let value = 0;
    while (x < width) {
      if (s >= src.length) throw new RdpGraphicsError('a planar RLE plane runs past the end of the bitmap data');
      const control = src[s++]!;
      let run = control & 0x0f;
      let raw = control >> 4;
      if (run === 1) {
        run = 16 + raw;
        raw = 0;
      } else if (run === 2) {
        run = 32 + raw;
        raw = 0;
      }
      if (x + raw + run > width) throw new RdpGraphicsError('a planar RLE segment runs past the end of its scanline');
      if (s + raw > src.length) throw new RdpGraphicsError('a planar RLE plane runs past the end of the bitmap data');
      if (y === 0) {
        for (; raw > 0; raw--) out[row + x++] = value = src[s++]!;
        for (; run > 0; run--) out[row + x++] = value;
      } else {
        for (; raw > 0; raw--) {
          const e = src[s++]!;
          value = e & 1 ? -((e >> 1) + 1) : e >> 1;
          out[row + x] = (out[row - width + x]! + value) & 0xff;
          x++;
        }
        for (; run > 0; run--) {
          out[row + x] = (out[row - width + x]! + value) & 0xff;
          x++;
        }
      }
    }
  }
  return s - start;
}

/**
 * An RDP 6.0 planar bitmap (the form of every compressed 32 bpp bitmap update) to RGBA top-down. Planes
 * in order alpha (absent with NA), red, green, blue; raw or RLE. The screen is opaque: alpha is read past,
 * not applied. The AYCoCg forms (colour loss level, chroma subsampling) are refused: none of the targets
 * tested sends them, and no published example pins their rounding down.
 */
export function decodePlanar(src: Uint8Array, width: number, height: number): Uint8Array {
  checkSize(width, height);
  if (src.length < 1) throw new RdpGraphicsError('an empty planar bitmap');
  const header = src[0]!;
  if (header & PLANAR_CLL_MASK || header & PLANAR_CS) throw new RdpGraphicsError('planar AYCoCg (colour loss or chroma subsampling) is not decoded');
  const rle = (header & PLANAR_RLE) !== 0;
  const planeCount = header & PLANAR_NA ? 3 : 4;
  const size = width * height;
  const planes = [new Uint8Array(size), new Uint8Array(size), new Uint8Array(size), new Uint8Array(size)];
  let s = 1;
  for (let i = 4 - planeCount; i < 4; i++) {
    if (rle) s += decodePlaneRle(src, s, width, height, planes[i]!);
    else {
      if (s + size > src.length) throw new RdpGraphicsError('a raw planar plane runs past the end of the bitmap data');
      planes[i]!.set(src.subarray(s, s + size));
      s += size;
    }
  }
  const [, r, g, b] = planes as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const out = new Uint8Array(size * 4);
  for (let row = 0; row < height; row++) {
    const p0 = row * width;
    let o = (height - 1 - row) * width * 4;
    for (let x = 0; x < width; x++, o += 4) {
      out[o] = r[p0 + x]!;
      out[o + 1] = g[p0 + x]!;
      out[o + 2] = b[p0 + x]!;
      out[o + 3] = 0xff;
    }
  }
  return out;
}

export interface BitmapData {
  width: number;
  height: number;
  bpp: number;
  compressed: boolean;
  data: Uint8Array;
}

/** One TS_BITMAP_DATA's pixels as RGBA top-down, width × height (the whole bitmap, not yet clipped). */
export function decodeBitmap(b: BitmapData, palette: Palette = defaultPalette()): Uint8Array {
  if (!b.compressed) return decodeUncompressed(b.data, b.width, b.height, b.bpp, palette);
  if (b.bpp === 32) return decodePlanar(b.data, b.width, b.height);
  return decodeInterleaved(b.data, b.width, b.height, b.bpp, palette);
}
