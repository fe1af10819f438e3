// From the bytes a target sent (recorded after the ClientInfo, over TLS: no RDP security layer) to the
// graphics updates in them. Two framings share the stream (MS-RDPBCGR 2.2.9.1):
//  - slow path: TPKT ‖ X.224 Data ‖ MCS Send-Data-Indication ‖ share control header ‖ share data header ‖
//    PDUTYPE2_UPDATE (bitmap, palette, orders, synchronize); licensing PDUs and the Demand Active come this way;
//  - fast path: fpOutputHeader ‖ length ‖ TS_FP_UPDATE* (bitmap, palette, orders, surface commands, pointers),
//    an update possibly fragmented across several frames (FASTPATH_FRAGMENT_*).
// What is drawn: bitmap updates (raw, interleaved RLE, planar), palettes, surface bits without a codec (as
// uncompressed bitmaps), the drawing orders of rdp-orders.ts (the bitmap cache, fills, copies, lines), and
// the desktop size of each Demand Active. What is passed over, and counted in `ignored`: glyph (text),
// polygon, ellipse and brush orders, pointer updates (a screenshot has no cursor either), bulk-compressed
// data, encrypted fast-path frames, surface bits or cached bitmaps with a codec, virtual channel traffic,
// licensing.
//
// What keeps a recording drawable is the proxy's part: compression off in the ClientInfo (bulk-compressed
// updates cannot be read without the whole compressor history), no GFX, no codecs in the Bitmap Codecs
// capability; and, for Windows targets, in the client's Confirm Active: the Bitmap capability's drawingFlags
// without DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY (0x02) and DRAW_ALLOW_COLOR_SUBSAMPLING (0x04) (else 32 bpp
// bitmaps come as AYCoCg planar, refused here), the Glyph Cache capability at GLYPH_SUPPORT_NONE, and in
// orderSupport only the orders drawn above (else text comes as glyph orders, passed over here).
import { RdpGraphicsError, type BitmapData } from './rdp-bitmap.js';
import { Reader } from './rdp-reader.js';
import { RdpOrderParser, type RdpOrderUpdate } from './rdp-orders.js';

export interface BitmapRect extends BitmapData {
  /** Inclusive destination rectangle on the desktop. */
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export type RdpUpdate =
  | { kind: 'bitmap'; rects: BitmapRect[] }
  | { kind: 'palette'; colors: Uint8Array }
  /** The desktop size and colour depth of a (re)activation. */
  | { kind: 'desktop'; width: number; height: number; bpp: number }
  | RdpOrderUpdate;

/** Desktop sizes drawn: what clients offer (up to 8K UHD); a larger claim is refused, not allocated. */
export const MAX_DESKTOP_SIDE = 8192;
export const MAX_DESKTOP_PIXELS = 7680 * 4320;

export function desktopSizeOk(width: number, height: number): boolean {
  return Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && width <= MAX_DESKTOP_SIDE && height <= MAX_DESKTOP_SIDE && width * height <= MAX_DESKTOP_PIXELS;
}

/** The largest frame either framing can describe, and the most a fragmented fast-path update may grow to. */
const MAX_REASSEMBLY = 16 * 1024 * 1024;

const MCS_SEND_DATA_INDICATION = 26;
const PDUTYPE_DEMANDACTIVEPDU = 0x1;
const PDUTYPE_DATAPDU = 0x7;
const PDUTYPE2_UPDATE = 0x02;
const PACKET_COMPRESSED = 0x20;
const UPDATETYPE_ORDERS = 0x0;
const UPDATETYPE_BITMAP = 0x1;
const UPDATETYPE_PALETTE = 0x2;
const UPDATETYPE_SYNCHRONIZE = 0x3;
const BITMAP_COMPRESSION = 0x0001;
const NO_BITMAP_COMPRESSION_HDR = 0x0400;
const CAPSTYPE_BITMAP = 0x0002;
const SEC_LICENSE_PKT = 0x0080;

const FASTPATH_UPDATETYPE_ORDERS = 0x0;
const FASTPATH_UPDATETYPE_BITMAP = 0x1;
const FASTPATH_UPDATETYPE_PALETTE = 0x2;
const FASTPATH_UPDATETYPE_SYNCHRONIZE = 0x3;
const FASTPATH_UPDATETYPE_SURFCMDS = 0x4;
const FASTPATH_FRAGMENT_SINGLE = 0x0;
const FASTPATH_FRAGMENT_LAST = 0x1;
const FASTPATH_FRAGMENT_FIRST = 0x2;
const FASTPATH_OUTPUT_COMPRESSION_USED = 0x2;
const FASTPATH_OUTPUT_ENCRYPTED = 0x2;

const CMDTYPE_SET_SURFACE_BITS = 0x0001;
const CMDTYPE_FRAME_MARKER = 0x0004;
const CMDTYPE_STREAM_SURFACE_BITS = 0x0006;
const EX_COMPRESSED_BITMAP_HEADER_PRESENT = 0x01;
const RDP_CODEC_ID_NONE = 0x00;

const FAST_PATH_NAMES: Record<number, string> = {
  0x5: 'pointer',
  0x6: 'pointer',
  0x8: 'pointer',
  0x9: 'pointer',
  0xa: 'pointer',
  0xb: 'pointer',
  0xc: 'pointer',
};

/**
 * Splits the target's byte stream into whole frames (TPKT or fast-path) by their length fields. The proxy
 * records one frame per record, but a stream is split the same however it was cut. Where the two disagree
 * — bytes of an unfinished frame are held and a piece arrives that is whole frames by itself — the held bytes
 * were a frame cut short (or a length field gone wrong): they are dropped, so one bad length cannot swallow
 * the rest of the recording.
 */
export class RdpFrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Held bytes dropped as a frame cut short. */
  dropped = 0;

  /** Frames completed by `data`; throws RdpGraphicsError (and forgets what it held) on a frame header neither framing allows. */
  push(data: Uint8Array): Buffer[] {
    if (this.pending.length) {
      const alone = wholeFrames(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      if (alone) {
        this.dropped += this.pending.length;
        this.pending = Buffer.alloc(0);
        return alone;
      }
    }
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : Buffer.from(data);
    let frames: Buffer[];
    let used: number;
    try {
      [frames, used] = splitFrames(this.pending);
    } catch (e) {
      this.pending = Buffer.alloc(0);
      throw e;
    }
    this.pending = used === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(used));
    return frames;
  }

  /** Bytes of a frame not yet complete. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** The length of the frame starting at `pos`, or undefined when its header is not all there yet. */
function frameLength(buf: Buffer, pos: number): number | undefined {
  if (buf.length - pos < 2) return undefined;
  const b0 = buf[pos]!;
  if (b0 === 0x03) {
    if (buf.length - pos < 4) return undefined;
    const len = buf.readUInt16BE(pos + 2);
    if (len < 7) throw new RdpGraphicsError(`a TPKT of ${len} bytes`);
    return len;
  }
  if ((b0 & 0x03) === 0) {
    const l1 = buf[pos + 1]!;
    if (!(l1 & 0x80)) {
      if (l1 < 2) throw new RdpGraphicsError(`a fast-path frame of ${l1} bytes`);
      return l1;
    }
    if (buf.length - pos < 3) return undefined;
    const len = ((l1 & 0x7f) << 8) | buf[pos + 2]!;
    if (len < 3) throw new RdpGraphicsError(`a fast-path frame of ${len} bytes`);
    return len;
  }
  throw new RdpGraphicsError(`a frame starting 0x${b0.toString(16)}, neither TPKT nor fast-path`);
}

/** The whole frames at the start of `buf` and how many bytes they take. */
function splitFrames(buf: Buffer): [Buffer[], number] {
  const frames: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const len = frameLength(buf, pos);
    if (len === undefined || buf.length - pos < len) return [frames, pos];
    frames.push(buf.subarray(pos, pos + len));
    pos += len;
  }
}

/** `buf` as whole frames with nothing left over, or undefined. */
function wholeFrames(buf: Buffer): Buffer[] | undefined {
  try {
    const [frames, used] = splitFrames(buf);
    return frames.length && used === buf.length ? frames.map((f) => Buffer.from(f)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses whole frames into updates. Keeps what spans frames: a fast-path update being reassembled from
 * fragments, and the I/O channel (learnt from the Demand Active; other channels carry virtual channel data).
 */
export class RdpUpdateParser {
  /** What was passed over, by kind: for a reader who wonders why a picture lacks something. */
  readonly ignored = new Map<string, number>();
  private ioChannel: number | undefined;
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private fragmentCode = -1;
  private readonly orders = new RdpOrderParser((what) => this.ignore(what));
  /** Orders that could not be read past: their updates' drawing before them is kept, the reason here. */
  private readonly orderProblems: string[] = [];

  /** The reasons orders were cut short since the last call. */
  takeProblems(): string[] {
    return this.orderProblems.splice(0);
  }

  /** Drawing orders (after their count); a malformed one ends its update, keeping what came before it. */
  private orderUpdates(r: Reader, count: number): RdpUpdate[] {
    const out: RdpOrderUpdate[] = [];
    try {
      this.orders.parse(r, count, out);
    } catch (e) {
      if (!(e instanceof RdpGraphicsError)) throw e;
      this.orderProblems.push(e.message);
    }
    return out;
  }

  private ignore(what: string): void {
    this.ignored.set(what, (this.ignored.get(what) ?? 0) + 1);
  }

  /** The updates in one frame. Throws RdpGraphicsError on a malformed frame (its updates before that are lost). */
  parse(frame: Uint8Array): RdpUpdate[] {
    if (frame.length < 2) throw new RdpGraphicsError('a frame of under 2 bytes');
    return frame[0] === 0x03 ? this.slowPath(frame) : this.fastPath(frame);
  }

  private slowPath(frame: Uint8Array): RdpUpdate[] {
    const r = new Reader(frame);
    r.skip(2, 'the TPKT header');
    const len = r.u16be('the TPKT header');
    if (len !== frame.length) throw new RdpGraphicsError(`a TPKT saying ${len} bytes in a frame of ${frame.length}`);
    const li = r.u8('the X.224 header');
    const code = r.u8('the X.224 header');
    if ((code & 0xf0) !== 0xf0) {
      this.ignore('X.224 other than data');
      return [];
    }
    r.skip(li - 1, 'the X.224 header');
    const mcs = r.u8('the MCS header');
    if (mcs >> 2 !== MCS_SEND_DATA_INDICATION) {
      this.ignore('MCS other than Send-Data-Indication');
      return [];
    }
    r.u16be('the MCS header'); // initiator
    const channel = r.u16be('the MCS header');
    r.u8('the MCS header'); // data priority, segmentation
    let length = r.u8('the MCS length');
    if (length & 0x80) {
      if ((length & 0xc0) === 0xc0) throw new RdpGraphicsError('a fragmented MCS length');
      length = ((length & 0x3f) << 8) | r.u8('the MCS length');
    }
    r.need(length, 'the MCS user data');
    const data = new Reader(frame, r.pos, r.pos + length);
    if (this.ioChannel !== undefined && channel !== this.ioChannel) {
      this.ignore('virtual channel data');
      return [];
    }
    const updates: RdpUpdate[] = [];
    // Share control PDUs may follow one another in one MCS PDU.
    while (data.left >= 4) {
      const start = data.pos;
      const total = data.u16('the share control header');
      if (total === 0x8000) {
        this.ignore('flow control');
        break;
      }
      const pduType = data.u16('the share control header');
      if ((pduType & 0xfff0) !== 0x0010) {
        // With TLS only licensing (SEC_LICENSE_PKT) and a few other security-layer PDUs carry a basic
        // security header; nothing here draws.
        this.ignore(total & SEC_LICENSE_PKT ? 'licensing' : 'security-layer PDU');
        break;
      }
      const end = total >= 6 && start + total <= data.end ? start + total : data.end;
      const pdu = new Reader(frame, data.pos, end);
      const type = pduType & 0x0f;
      if (type === PDUTYPE_DEMANDACTIVEPDU) {
        const desktop = this.demandActive(pdu, channel);
        if (desktop) updates.push(desktop);
      } else if (type === PDUTYPE_DATAPDU) {
        updates.push(...this.dataPdu(pdu));
      } else {
        this.ignore('share control PDU');
      }
      data.pos = end;
    }
    return updates;
  }

  /** The Demand Active: its channel is the I/O channel, its bitmap capability set the desktop size. */
  private demandActive(r: Reader, channel: number): RdpUpdate | undefined {
    r.u16('the Demand Active'); // pduSource
    r.u32('the Demand Active'); // shareId
    const sourceLength = r.u16('the Demand Active');
    r.u16('the Demand Active'); // lengthCombinedCapabilities
    r.skip(sourceLength, 'the source descriptor');
    const count = r.u16('the capability sets');
    r.u16('the capability sets'); // pad
    this.ioChannel = channel;
    for (let i = 0; i < count && r.left >= 4; i++) {
      const at = r.pos;
      const type = r.u16('a capability set');
      const len = r.u16('a capability set');
      if (len < 4) throw new RdpGraphicsError('a capability set under 4 bytes');
      r.need(len - 4, 'a capability set');
      if (type === CAPSTYPE_BITMAP && len >= 16) {
        const c = new Reader(r.buf, at + 4, at + len);
        const bpp = c.u16('the bitmap capability set');
        c.skip(6, 'the bitmap capability set'); // receive1/4/8BitPerPixel
        const width = c.u16('the bitmap capability set');
        const height = c.u16('the bitmap capability set');
        if (!desktopSizeOk(width, height)) throw new RdpGraphicsError(`a desktop of ${width}×${height}`);
        return { kind: 'desktop', width, height, bpp };
      }
      r.pos = at + len;
    }
    return undefined;
  }

  private dataPdu(r: Reader): RdpUpdate[] {
    r.u16('the share data header'); // pduSource
    r.u32('the share data header'); // shareId
    r.u8('the share data header'); // pad
    r.u8('the share data header'); // streamId
    r.u16('the share data header'); // uncompressedLength
    const pduType2 = r.u8('the share data header');
    const compressedType = r.u8('the share data header');
    r.u16('the share data header'); // compressedLength
    if (pduType2 !== PDUTYPE2_UPDATE) {
      this.ignore(pduType2 === 0x1b ? 'pointer' : 'share data PDU other than an update');
      return [];
    }
    if (compressedType & PACKET_COMPRESSED) {
      this.ignore('bulk-compressed update');
      return [];
    }
    const updateType = r.u16('the update type');
    switch (updateType) {
      case UPDATETYPE_BITMAP:
        return [this.bitmapUpdate(r)];
      case UPDATETYPE_PALETTE:
        return [this.palette(r)];
      case UPDATETYPE_ORDERS: {
        r.u16('the orders update'); // pad
        const count = r.u16('the orders update');
        r.u16('the orders update'); // pad
        return this.orderUpdates(r, count);
      }
      case UPDATETYPE_SYNCHRONIZE:
        return [];
      default:
        this.ignore('unknown update type');
        return [];
    }
  }

  /** TS_UPDATE_BITMAP_DATA after its updateType. */
  private bitmapUpdate(r: Reader): RdpUpdate {
    const n = r.u16('the bitmap update');
    const rects: BitmapRect[] = [];
    for (let i = 0; i < n; i++) {
      const left = r.u16('a bitmap rectangle');
      const top = r.u16('a bitmap rectangle');
      const right = r.u16('a bitmap rectangle');
      const bottom = r.u16('a bitmap rectangle');
      const width = r.u16('a bitmap rectangle');
      const height = r.u16('a bitmap rectangle');
      const bpp = r.u16('a bitmap rectangle');
      const flags = r.u16('a bitmap rectangle');
      let length = r.u16('a bitmap rectangle');
      const compressed = (flags & BITMAP_COMPRESSION) !== 0;
      if (compressed && !(flags & NO_BITMAP_COMPRESSION_HDR)) {
        // TS_CD_HEADER: the data proper is cbCompMainBodySize long (bitmapLength counted the header too).
        r.u16('a compressed data header'); // cbCompFirstRowSize
        const body = r.u16('a compressed data header');
        r.u16('a compressed data header'); // cbScanWidth
        r.u16('a compressed data header'); // cbUncompressedSize
        length = body;
      }
      const data = r.bytes(length, 'a bitmap');
      rects.push({ left, top, right, bottom, width, height, bpp, compressed, data });
    }
    return { kind: 'bitmap', rects };
  }

  /** TS_UPDATE_PALETTE_DATA after its updateType. */
  private palette(r: Reader): RdpUpdate {
    r.u16('the palette update'); // pad
    const n = r.u32('the palette update');
    if (n > 256) throw new RdpGraphicsError(`a palette of ${n} colours`);
    const colors = new Uint8Array(256 * 3);
    colors.set(r.bytes(n * 3, 'the palette'));
    return { kind: 'palette', colors };
  }

  private fastPath(frame: Uint8Array): RdpUpdate[] {
    const r = new Reader(frame);
    const header = r.u8();
    if ((header & 0x03) !== 0) throw new RdpGraphicsError('a fast-path frame with an unknown action');
    let len = r.u8('the fast-path length');
    if (len & 0x80) len = ((len & 0x7f) << 8) | r.u8('the fast-path length');
    if (len !== frame.length) throw new RdpGraphicsError(`a fast-path frame saying ${len} bytes in a frame of ${frame.length}`);
    if ((header >> 6) & FASTPATH_OUTPUT_ENCRYPTED) {
      // Standard RDP security; the proxy only speaks TLS, so this is not a frame it relayed as such.
      this.ignore('encrypted fast-path');
      return [];
    }
    const updates: RdpUpdate[] = [];
    while (r.left > 0) {
      const uh = r.u8('a fast-path update header');
      const code = uh & 0x0f;
      const fragmentation = (uh >> 4) & 0x03;
      let compressed = false;
      if ((uh >> 6) & FASTPATH_OUTPUT_COMPRESSION_USED) compressed = (r.u8('a fast-path update header') & PACKET_COMPRESSED) !== 0;
      const size = r.u16('a fast-path update header');
      const data = r.bytes(size, 'a fast-path update');
      if (compressed) {
        this.ignore('bulk-compressed update');
        this.dropFragments();
        continue;
      }
      if (fragmentation === FASTPATH_FRAGMENT_SINGLE) {
        this.dropFragments();
        updates.push(...this.fastPathUpdate(code, data));
        continue;
      }
      if (fragmentation === FASTPATH_FRAGMENT_FIRST) this.dropFragments();
      else if (this.fragmentCode !== code) {
        // A NEXT or LAST without its FIRST (or for another update): nothing to join it to.
        this.ignore('orphan fast-path fragment');
        this.dropFragments();
        continue;
      }
      this.fragmentCode = code;
      this.fragmentBytes += data.length;
      if (this.fragmentBytes > MAX_REASSEMBLY) {
        this.dropFragments();
        throw new RdpGraphicsError('a fragmented fast-path update over 16 MiB');
      }
      this.fragments.push(Buffer.from(data));
      if (fragmentation === FASTPATH_FRAGMENT_LAST) {
        const whole = Buffer.concat(this.fragments);
        this.dropFragments();
        updates.push(...this.fastPathUpdate(code, whole));
      }
    }
    return updates;
  }

  private dropFragments(): void {
    this.fragments = [];
    this.fragmentBytes = 0;
    this.fragmentCode = -1;
  }

  private fastPathUpdate(code: number, data: Uint8Array): RdpUpdate[] {
    const r = new Reader(data);
    switch (code) {
      case FASTPATH_UPDATETYPE_BITMAP:
        if (r.u16('the update type') !== UPDATETYPE_BITMAP) throw new RdpGraphicsError('a fast-path bitmap update of another type');
        return [this.bitmapUpdate(r)];
      case FASTPATH_UPDATETYPE_PALETTE:
        if (r.u16('the update type') !== UPDATETYPE_PALETTE) throw new RdpGraphicsError('a fast-path palette update of another type');
        return [this.palette(r)];
      case FASTPATH_UPDATETYPE_SYNCHRONIZE:
        return [];
      case FASTPATH_UPDATETYPE_SURFCMDS:
        return this.surfaceCommands(r);
      case FASTPATH_UPDATETYPE_ORDERS:
        return this.orderUpdates(r, r.u16('the orders update'));
      default:
        this.ignore(FAST_PATH_NAMES[code] ?? 'unknown fast-path update');
        return [];
    }
  }

  /** TS_SURFCMD*: surface bits drawn when uncompressed (codec id 0); frame markers skipped. */
  private surfaceCommands(r: Reader): RdpUpdate[] {
    const updates: RdpUpdate[] = [];
    while (r.left >= 2) {
      const type = r.u16('a surface command');
      if (type === CMDTYPE_FRAME_MARKER) {
        r.skip(6, 'a frame marker');
        continue;
      }
      if (type !== CMDTYPE_SET_SURFACE_BITS && type !== CMDTYPE_STREAM_SURFACE_BITS) throw new RdpGraphicsError(`surface command ${type}`);
      const left = r.u16('a surface command');
      const top = r.u16('a surface command');
      r.u16('a surface command'); // right
      r.u16('a surface command'); // bottom
      const bpp = r.u8('the bitmap data');
      const flags = r.u8('the bitmap data');
      r.u8('the bitmap data'); // reserved
      const codec = r.u8('the bitmap data');
      const width = r.u16('the bitmap data');
      const height = r.u16('the bitmap data');
      const length = r.u32('the bitmap data');
      if (flags & EX_COMPRESSED_BITMAP_HEADER_PRESENT) r.skip(24, 'the extended bitmap header');
      const data = r.bytes(length, 'the surface bits');
      if (codec !== RDP_CODEC_ID_NONE) {
        this.ignore('surface bits with a codec');
        continue;
      }
      // Without a codec the bits are an uncompressed bitmap like any other (rows bottom-up, as FreeRDP reads them).
      if (width > 0 && height > 0) updates.push({ kind: 'bitmap', rects: [{ left, top, right: left + width - 1, bottom: top + height - 1, width, height, bpp, compressed: false, data }] });
    }
    return updates;
  }
}
