// Drawing orders (MS-RDPEGDI 2.2.2), the part a recording needs: a target that paints through the bitmap
// cache sends Cache Bitmap secondary orders (revisions 1, 2 and 3 without a codec) then MemBlt primary orders,
// and fills and copies with OpaqueRect, MultiOpaqueRect, PatBlt, MultiPatBlt, DstBlt, MultiDstBlt, ScrBlt and
// LineTo; offscreen surfaces (CreateOffscreenBitmap, SwitchSurface) are followed too. These become drawing
// updates for the renderer. (xrdp 0.9.21 sends none of them to FreeRDP: bitmap updates only, as measured.)
//
// Primary orders carry no length: to reach the order after one, every field must be read, with the state
// the stream keeps (the last order type, each type's last field values, the bounds). So every primary order
// type is parsed — glyph, polygon, polyline, ellipse, nine-grid, MultiScrBlt, Mem3Blt and SaveBitmap only to
// be passed over (counted) — and an order the parser cannot read (an alternate secondary order other than
// those above) ends the parsing of its update, counted; the orders after it in that update are lost.
import { RdpGraphicsError, type BitmapData } from './rdp-bitmap.js';
import { Reader } from './rdp-reader.js';

/** Inclusive clipping rectangle. */
export interface ClipRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export type RdpOrderUpdate =
  /** A rectangle filled: `color` in the session's colour depth (byte 0 red at 24 and 32 bpp). */
  | { kind: 'fill'; x: number; y: number; width: number; height: number; color: number; rop: 'copy' | 'xor' | 'black' | 'white' | 'invert'; clip?: ClipRect }
  | { kind: 'scrblt'; x: number; y: number; width: number; height: number; srcX: number; srcY: number; clip?: ClipRect }
  /** A cached bitmap (cacheId 0xff: an offscreen surface, cacheIndex its id) drawn. */
  | { kind: 'memblt'; cacheId: number; cacheIndex: number; x: number; y: number; width: number; height: number; srcX: number; srcY: number; clip?: ClipRect }
  | { kind: 'cache'; cacheId: number; cacheIndex: number; bitmap: BitmapData }
  | { kind: 'line'; x1: number; y1: number; x2: number; y2: number; color: number; clip?: ClipRect }
  | { kind: 'offscreen'; id: number; width: number; height: number; deleted: number[] }
  /** Drawing goes to this offscreen surface from now on (0xffff: the screen). */
  | { kind: 'target'; id: number };

const TS_STANDARD = 0x01;
const TS_SECONDARY = 0x02;
const TS_BOUNDS = 0x04;
const TS_TYPE_CHANGE = 0x08;
const TS_DELTA_COORDINATES = 0x10;
const TS_ZERO_BOUNDS_DELTAS = 0x20;
const TS_ZERO_FIELD_BYTE_BIT0 = 0x40;
const TS_ZERO_FIELD_BYTE_BIT1 = 0x80;

/** The kinds of primary order fields. */
const enum F {
  Coord, // int16, or an int8 delta with TS_DELTA_COORDINATES
  U8,
  U16,
  U32,
  I16, // int16, never a delta (glyph index coordinates)
  Color, // 3 bytes
  Brush7, // BrushExtra
  Var8, // u8 length ‖ bytes
  Var16, // u16 length ‖ bytes
}

const C = F.Coord;
const BRUSH = [F.U8, F.U8, F.U8, F.U8, F.Brush7];
/** Field layouts of the primary orders (MS-RDPEGDI 2.2.2.2.1.1.2), by order type. */
const PRIMARY: Record<number, { name: string; fields: F[] }> = {
  0x00: { name: 'DstBlt', fields: [C, C, C, C, F.U8] },
  0x01: { name: 'PatBlt', fields: [C, C, C, C, F.U8, F.Color, F.Color, ...BRUSH] },
  0x02: { name: 'ScrBlt', fields: [C, C, C, C, F.U8, C, C] },
  0x07: { name: 'DrawNineGrid', fields: [C, C, C, C, F.U16] },
  0x08: { name: 'MultiDrawNineGrid', fields: [C, C, C, C, F.U16, F.U8, F.Var16] },
  0x09: { name: 'LineTo', fields: [F.U16, C, C, C, C, F.Color, F.U8, F.U8, F.U8, F.Color] },
  0x0a: { name: 'OpaqueRect', fields: [C, C, C, C, F.U8, F.U8, F.U8] },
  0x0b: { name: 'SaveBitmap', fields: [F.U32, C, C, C, C, F.U8] },
  0x0d: { name: 'MemBlt', fields: [F.U16, C, C, C, C, F.U8, C, C, F.U16] },
  0x0e: { name: 'Mem3Blt', fields: [F.U16, C, C, C, C, F.U8, C, C, F.Color, F.Color, ...BRUSH, F.U16] },
  0x0f: { name: 'MultiDstBlt', fields: [C, C, C, C, F.U8, F.U8, F.Var16] },
  0x10: { name: 'MultiPatBlt', fields: [C, C, C, C, F.U8, F.Color, F.Color, ...BRUSH, F.U8, F.Var16] },
  0x11: { name: 'MultiScrBlt', fields: [C, C, C, C, F.U8, C, C, F.U8, F.Var16] },
  0x12: { name: 'MultiOpaqueRect', fields: [C, C, C, C, F.U8, F.U8, F.U8, F.U8, F.Var16] },
  0x13: { name: 'FastIndex', fields: [F.U8, F.U16, F.Color, F.Color, C, C, C, C, C, C, C, C, C, C, F.Var8] },
  0x14: { name: 'PolygonSC', fields: [C, C, F.U8, F.U8, F.Color, F.U8, F.Var8] },
  0x15: { name: 'PolygonCB', fields: [C, C, F.U8, F.U8, F.Color, F.Color, ...BRUSH, F.U8, F.Var8] },
  0x16: { name: 'Polyline', fields: [C, C, F.U8, F.U16, F.Color, F.U8, F.Var8] },
  0x18: { name: 'FastGlyph', fields: [F.U8, F.U16, F.Color, F.Color, C, C, C, C, C, C, C, C, C, C, F.Var8] },
  0x19: { name: 'EllipseSC', fields: [C, C, C, C, F.U8, F.U8, F.Color] },
  0x1a: { name: 'EllipseCB', fields: [C, C, C, C, F.U8, F.U8, F.Color, F.Color, ...BRUSH] },
  0x1b: { name: 'GlyphIndex', fields: [F.U8, F.U8, F.U8, F.U8, F.Color, F.Color, F.I16, F.I16, F.I16, F.I16, F.I16, F.I16, F.I16, F.I16, ...BRUSH, F.I16, F.I16, F.Var8] },
};

function fieldBytes(fields: number): number {
  return Math.ceil((fields + 1) / 8);
}

const TS_CACHE_BITMAP_UNCOMPRESSED = 0x00;
const TS_CACHE_COLOR_TABLE = 0x01;
const TS_CACHE_BITMAP_COMPRESSED = 0x02;
const TS_CACHE_GLYPH = 0x03;
const TS_CACHE_BITMAP_UNCOMPRESSED_REV2 = 0x04;
const TS_CACHE_BITMAP_COMPRESSED_REV2 = 0x05;
const TS_CACHE_BRUSH = 0x07;
const TS_CACHE_BITMAP_COMPRESSED_REV3 = 0x08;
const NO_BITMAP_COMPRESSION_HDR = 0x0400;
const CBR2_HEIGHT_SAME_AS_WIDTH = 0x01;
const CBR2_PERSISTENT_KEY_PRESENT = 0x02;
const CBR2_NO_BITMAP_COMPRESSION_HDR = 0x08;
const CBR2_DO_NOT_CACHE = 0x10;
/** The waiting list entry (MS-RDPEGDI 2.2.2.2.1.2.3): where a bitmap marked "do not cache" goes. */
export const BITMAP_CACHE_WAITING_LIST_INDEX = 32767;
const CBR2_BPP: Record<number, number> = { 3: 8, 4: 16, 5: 24, 6: 32 };

const TS_ALTSEC_SWITCH_SURFACE = 0x00;
const TS_ALTSEC_CREATE_OFFSCR_BITMAP = 0x01;
const TS_ALTSEC_FRAME_MARKER = 0x0d;

/** An order's colour bytes as one value (byte 0 lowest); the renderer reads it in the session's depth. */
function color3(r: Reader): number {
  const b0 = r.u8('a colour');
  const b1 = r.u8('a colour');
  return b0 | (b1 << 8) | (r.u8('a colour') << 16);
}

/** TWO_BYTE_UNSIGNED_ENCODING. */
function twoByte(r: Reader): number {
  const b = r.u8('a two-byte number');
  return b & 0x80 ? ((b & 0x7f) << 8) | r.u8('a two-byte number') : b;
}

/** FOUR_BYTE_UNSIGNED_ENCODING: the top two bits count the bytes after the first. */
function fourByte(r: Reader): number {
  const b = r.u8('a four-byte number');
  let v = b & 0x3f;
  for (let n = b >> 6; n > 0; n--) v = v * 256 + r.u8('a four-byte number');
  return v;
}

/** The fills a ternary raster operation amounts to without a source: PATCOPY, PATINVERT, BLACKNESS, WHITENESS, DSTINVERT. */
function fillRop(rop: number, pattern: boolean): 'copy' | 'xor' | 'black' | 'white' | 'invert' | undefined {
  if (rop === 0x00) return 'black';
  if (rop === 0xff) return 'white';
  if (rop === 0x55) return 'invert';
  if (pattern && rop === 0xf0) return 'copy';
  if (pattern && rop === 0x5a) return 'xor';
  return undefined;
}

/** DELTA_RECTS_FIELD (MS-RDPEGDI 2.2.2.2.1.1.1.5): the rectangles of a MultiOpaqueRect, absolute. */
function deltaRects(data: Uint8Array, count: number): { x: number; y: number; width: number; height: number }[] {
  const r = new Reader(data);
  const zeroBits = r.bytes(Math.ceil(count / 2), 'the delta rectangles');
  const delta = (): number => {
    const b = r.u8('a delta');
    // Six bits with bit 6 as the sign, and with bit 7 set, eight more below them.
    const v = b & 0x40 ? (b & 0x3f) - 0x40 : b & 0x3f;
    return b & 0x80 ? v * 256 + r.u8('a delta') : v;
  };
  const rects: { x: number; y: number; width: number; height: number }[] = [];
  let flags = 0;
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) flags = zeroBits[i / 2]!;
    const prev = rects[i - 1] ?? { x: 0, y: 0, width: 0, height: 0 };
    const left = flags & 0x80 ? 0 : delta();
    const top = flags & 0x40 ? 0 : delta();
    const width = flags & 0x20 ? prev.width : delta();
    const height = flags & 0x10 ? prev.height : delta();
    rects.push({ x: prev.x + left, y: prev.y + top, width, height });
    flags = (flags << 4) & 0xff;
  }
  return rects;
}

/** The parser of drawing orders, with the state the order stream carries from one order (and update) to the next. */
export class RdpOrderParser {
  private orderType = 0x01; // PatBlt, the initial type
  private readonly last = new Map<number, number[]>();
  private bounds: ClipRect = { left: 0, top: 0, right: 0, bottom: 0 };

  constructor(private readonly ignore: (what: string) => void) {}

  /**
   * `count` orders from `r` into `out`; stops (counted) at an alternate secondary order it cannot read past,
   * throws RdpGraphicsError at a malformed one (what `out` holds by then stands).
   */
  parse(r: Reader, count: number, out: RdpOrderUpdate[]): void {
    for (let i = 0; i < count && r.left > 0; i++) {
      const control = r.u8('an order');
      if (!(control & TS_STANDARD)) {
        if (!(control & TS_SECONDARY)) throw new RdpGraphicsError('an order neither primary nor secondary');
        if (!this.altsec(control >> 2, r, out)) return;
      } else if (control & TS_SECONDARY) this.secondary(r, out);
      else this.primary(control, r, out);
    }
  }

  private altsec(type: number, r: Reader, out: RdpOrderUpdate[]): boolean {
    switch (type) {
      case TS_ALTSEC_SWITCH_SURFACE:
        out.push({ kind: 'target', id: r.u16('a switch surface order') });
        return true;
      case TS_ALTSEC_CREATE_OFFSCR_BITMAP: {
        const flags = r.u16('a create offscreen bitmap order');
        const width = r.u16('a create offscreen bitmap order');
        const height = r.u16('a create offscreen bitmap order');
        const deleted: number[] = [];
        if (flags & 0x8000) for (let n = r.u16('a delete list'); n > 0; n--) deleted.push(r.u16('a delete list'));
        out.push({ kind: 'offscreen', id: flags & 0x7fff, width, height, deleted });
        return true;
      }
      case TS_ALTSEC_FRAME_MARKER:
        r.u32('a frame marker');
        return true;
      default:
        this.ignore('alternate secondary order (rest of its update lost)');
        return false;
    }
  }

  private secondary(r: Reader, out: RdpOrderUpdate[]): void {
    const length = r.i16('a secondary order header');
    const extraFlags = r.u16('a secondary order header');
    const type = r.u8('a secondary order header');
    const body = r.bytes(length + 7, 'a secondary order');
    const b = new Reader(body);
    switch (type) {
      case TS_CACHE_BITMAP_UNCOMPRESSED:
      case TS_CACHE_BITMAP_COMPRESSED: {
        const cacheId = b.u8('a cache bitmap order');
        b.u8('a cache bitmap order'); // pad
        const width = b.u8('a cache bitmap order');
        const height = b.u8('a cache bitmap order');
        const bpp = b.u8('a cache bitmap order');
        let len = b.u16('a cache bitmap order');
        const cacheIndex = b.u16('a cache bitmap order');
        const compressed = type === TS_CACHE_BITMAP_COMPRESSED;
        if (compressed && !(extraFlags & NO_BITMAP_COMPRESSION_HDR)) {
          b.skip(2, 'a compressed data header');
          len = b.u16('a compressed data header');
          b.skip(4, 'a compressed data header');
        }
        out.push({ kind: 'cache', cacheId, cacheIndex, bitmap: { width, height, bpp, compressed, data: b.bytes(len, 'a cached bitmap') } });
        return;
      }
      case TS_CACHE_BITMAP_UNCOMPRESSED_REV2:
      case TS_CACHE_BITMAP_COMPRESSED_REV2: {
        const cacheId = extraFlags & 0x0003;
        const bpp = CBR2_BPP[(extraFlags >> 3) & 0x0f];
        const flags = extraFlags >> 7;
        if (bpp === undefined) throw new RdpGraphicsError('a cache bitmap (revision 2) of unknown depth');
        if (flags & CBR2_PERSISTENT_KEY_PRESENT) b.skip(8, 'a persistent key');
        const width = twoByte(b);
        const height = flags & CBR2_HEIGHT_SAME_AS_WIDTH ? width : twoByte(b);
        let len = fourByte(b);
        let cacheIndex = twoByte(b);
        if (flags & CBR2_DO_NOT_CACHE) cacheIndex = BITMAP_CACHE_WAITING_LIST_INDEX;
        const compressed = type === TS_CACHE_BITMAP_COMPRESSED_REV2;
        if (compressed && !(flags & CBR2_NO_BITMAP_COMPRESSION_HDR)) {
          b.skip(2, 'a compressed data header');
          len = b.u16('a compressed data header');
          b.skip(4, 'a compressed data header');
        }
        out.push({ kind: 'cache', cacheId, cacheIndex, bitmap: { width, height, bpp, compressed, data: b.bytes(len, 'a cached bitmap') } });
        return;
      }
      case TS_CACHE_BITMAP_COMPRESSED_REV3: {
        const cacheId = extraFlags & 0x0003;
        const cacheIndex = b.u16('a cache bitmap (revision 3) order');
        b.skip(8, 'a cache bitmap (revision 3) order'); // key
        const bpp = b.u8('the bitmap data');
        const exFlags = b.u8('the bitmap data');
        b.u8('the bitmap data');
        const codec = b.u8('the bitmap data');
        const width = b.u16('the bitmap data');
        const height = b.u16('the bitmap data');
        const len = b.u32('the bitmap data');
        if (exFlags & 0x01) b.skip(24, 'the extended bitmap header');
        const data = b.bytes(len, 'a cached bitmap');
        if (codec !== 0) {
          this.ignore('cache bitmap with a codec');
          return;
        }
        out.push({ kind: 'cache', cacheId, cacheIndex, bitmap: { width, height, bpp, compressed: false, data } });
        return;
      }
      case TS_CACHE_COLOR_TABLE:
      case TS_CACHE_GLYPH:
      case TS_CACHE_BRUSH:
        this.ignore(type === TS_CACHE_GLYPH ? 'glyph' : type === TS_CACHE_BRUSH ? 'brush' : 'colour table');
        return;
      default:
        this.ignore('secondary order');
    }
  }

  private primary(control: number, r: Reader, out: RdpOrderUpdate[]): void {
    if (control & TS_TYPE_CHANGE) this.orderType = r.u8('an order type');
    const spec = PRIMARY[this.orderType];
    if (!spec) throw new RdpGraphicsError(`primary order type ${this.orderType}`);
    let nBytes = fieldBytes(spec.fields.length);
    if (control & TS_ZERO_FIELD_BYTE_BIT0) nBytes--;
    if (control & TS_ZERO_FIELD_BYTE_BIT1) nBytes = Math.max(nBytes - 2, 0);
    let present = 0;
    for (let i = 0; i < nBytes; i++) present |= r.u8('the field flags') << (8 * i);
    let clip: ClipRect | undefined;
    if (control & TS_BOUNDS) {
      if (!(control & TS_ZERO_BOUNDS_DELTAS)) this.readBounds(r);
      clip = { ...this.bounds };
    }
    const delta = (control & TS_DELTA_COORDINATES) !== 0;
    let values = this.last.get(this.orderType);
    if (!values) this.last.set(this.orderType, (values = spec.fields.map(() => 0)));
    const blobs: Uint8Array[] = [];
    spec.fields.forEach((kind, i) => {
      if (!(present & (1 << i))) return;
      switch (kind) {
        case F.Coord:
          values[i] = delta ? values[i]! + r.i8('a coordinate') : r.i16('a coordinate');
          break;
        case F.U8:
          values[i] = r.u8();
          break;
        case F.U16:
          values[i] = r.u16();
          break;
        case F.U32:
          values[i] = r.u32();
          break;
        case F.I16:
          values[i] = r.i16();
          break;
        case F.Color:
          values[i] = color3(r);
          break;
        case F.Brush7:
          r.skip(7, 'a brush');
          break;
        case F.Var8:
          blobs[i] = r.bytes(r.u8('a variable field'), 'a variable field');
          break;
        case F.Var16:
          blobs[i] = r.bytes(r.u16('a variable field'), 'a variable field');
          break;
      }
    });
    const v = values;
    const at = (x: number, y: number, width: number, height: number) => ({ x, y, width, height, ...(clip ? { clip } : {}) });
    switch (this.orderType) {
      case 0x00: {
        // DstBlt
        const rop = v[4]!;
        const op = fillRop(rop, false);
        if (op) out.push({ kind: 'fill', ...at(v[0]!, v[1]!, v[2]!, v[3]!), color: 0, rop: op });
        else this.ignore(`${spec.name} rop 0x${rop.toString(16)}`);
        return;
      }
      case 0x01: {
        // PatBlt: drawn with its foreground colour, whatever the brush (a pattern shows as a plain fill).
        const rop = v[4]!;
        const op = fillRop(rop, true);
        if (op) out.push({ kind: 'fill', ...at(v[0]!, v[1]!, v[2]!, v[3]!), color: v[6]!, rop: op });
        else this.ignore(`${spec.name} rop 0x${rop.toString(16)}`);
        return;
      }
      case 0x02:
        if (v[4] === 0xcc) out.push({ kind: 'scrblt', ...at(v[0]!, v[1]!, v[2]!, v[3]!), srcX: v[5]!, srcY: v[6]! });
        else this.ignore(`${spec.name} rop 0x${v[4]!.toString(16)}`);
        return;
      case 0x09:
        // LineTo: a solid pen drawn with R2_COPYPEN; other mixes passed over.
        if (v[6] === 0x0d) out.push({ kind: 'line', x1: v[1]!, y1: v[2]!, x2: v[3]!, y2: v[4]!, color: v[9]!, ...(clip ? { clip } : {}) });
        else this.ignore(`${spec.name} rop2 ${v[6]}`);
        return;
      case 0x0a:
        out.push({ kind: 'fill', ...at(v[0]!, v[1]!, v[2]!, v[3]!), color: v[4]! | (v[5]! << 8) | (v[6]! << 16), rop: 'copy' });
        return;
      case 0x12: {
        const color = v[4]! | (v[5]! << 8) | (v[6]! << 16);
        for (const d of deltaRects(blobs[8] ?? new Uint8Array(0), v[7]!)) out.push({ kind: 'fill', ...at(d.x, d.y, d.width, d.height), color, rop: 'copy' });
        return;
      }
      case 0x0f: {
        // MultiDstBlt: DstBlt's raster operations over each delta rectangle.
        const op = fillRop(v[4]!, false);
        if (op) for (const d of deltaRects(blobs[6] ?? new Uint8Array(0), v[5]!)) out.push({ kind: 'fill', ...at(d.x, d.y, d.width, d.height), color: 0, rop: op });
        else this.ignore(`${spec.name} rop 0x${v[4]!.toString(16)}`);
        return;
      }
      case 0x10: {
        // MultiPatBlt: PatBlt (its foreground colour) over each delta rectangle.
        const op = fillRop(v[4]!, true);
        if (op) for (const d of deltaRects(blobs[13] ?? new Uint8Array(0), v[12]!)) out.push({ kind: 'fill', ...at(d.x, d.y, d.width, d.height), color: v[6]!, rop: op });
        else this.ignore(`${spec.name} rop 0x${v[4]!.toString(16)}`);
        return;
      }
      case 0x0d: {
        const rop = v[5]!;
        if (rop === 0xcc) out.push({ kind: 'memblt', cacheId: v[0]! & 0xff, cacheIndex: v[8]!, ...at(v[1]!, v[2]!, v[3]!, v[4]!), srcX: v[6]!, srcY: v[7]! });
        else if (rop === 0x00 || rop === 0xff) out.push({ kind: 'fill', ...at(v[1]!, v[2]!, v[3]!, v[4]!), color: 0, rop: rop === 0 ? 'black' : 'white' });
        else this.ignore(`${spec.name} rop 0x${rop.toString(16)}`);
        return;
      }
      default:
        this.ignore(spec.name);
    }
  }

  private readBounds(r: Reader): void {
    const flags = r.u8('the bounds');
    const b = this.bounds;
    if (flags & 0x01) b.left = r.i16('the bounds');
    else if (flags & 0x10) b.left += r.i8('the bounds');
    if (flags & 0x02) b.top = r.i16('the bounds');
    else if (flags & 0x20) b.top += r.i8('the bounds');
    if (flags & 0x04) b.right = r.i16('the bounds');
    else if (flags & 0x40) b.right += r.i8('the bounds');
    if (flags & 0x08) b.bottom = r.i16('the bounds');
    else if (flags & 0x80) b.bottom += r.i8('the bounds');
  }
}
