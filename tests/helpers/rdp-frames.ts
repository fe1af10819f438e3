// Server→client RDP frames built byte by byte from MS-RDPBCGR, as a target sends them over TLS (no security
// header but on licensing): for tests of the recording renderer, and for anyone who needs a synthetic
// RDP recording.

export interface RectSpec {
  left: number;
  top: number;
  width: number;
  height: number;
  bpp: number;
  /** Bitmap data as sent (rows bottom-up; compressed or not). */
  data: Buffer;
  compressed?: boolean;
  /** For a compressed bitmap: prefix the 8-byte TS_CD_HEADER (default: none, NO_BITMAP_COMPRESSION_HDR set). */
  cdHeader?: boolean;
  /** Destination width/height when they differ from the bitmap's (a padded bitmap). */
  destWidth?: number;
  destHeight?: number;
}

export const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};

/** TS_BITMAP_DATA. */
export function bitmapData(r: RectSpec): Buffer {
  const compressed = r.compressed ?? false;
  let flags = compressed ? 0x0001 : 0;
  let body = r.data;
  if (compressed && r.cdHeader) body = Buffer.concat([u16(0), u16(r.data.length), u16(r.width * Math.ceil(r.bpp / 8)), u16(r.width * r.height * Math.ceil(r.bpp / 8)), r.data]);
  else if (compressed) flags |= 0x0400;
  const dw = r.destWidth ?? r.width;
  const dh = r.destHeight ?? r.height;
  return Buffer.concat([u16(r.left), u16(r.top), u16(r.left + dw - 1), u16(r.top + dh - 1), u16(r.width), u16(r.height), u16(r.bpp), u16(flags), u16(body.length), body]);
}

/** TS_UPDATE_BITMAP_DATA (with its updateType). */
export function bitmapUpdateData(rects: RectSpec[]): Buffer {
  return Buffer.concat([u16(1), u16(rects.length), ...rects.map(bitmapData)]);
}

/** TS_UPDATE_PALETTE_DATA: `colors` as [r, g, b] triples. */
export function paletteUpdateData(colors: [number, number, number][]): Buffer {
  return Buffer.concat([u16(2), u16(0), u32(colors.length), Buffer.from(colors.flat())]);
}

/** TPKT ‖ X.224 Data ‖ MCS Send-Data-Indication on `channel` around `userData`. */
export function slowPathFrame(userData: Buffer, channel = 1003, initiator = 1002): Buffer {
  const len = userData.length;
  const perLen = len < 0x80 ? Buffer.from([len]) : Buffer.from([0x80 | (len >> 8), len & 0xff]);
  const mcs = Buffer.concat([Buffer.from([26 << 2]), Buffer.from([(initiator - 1001) >> 8, (initiator - 1001) & 0xff, channel >> 8, channel & 0xff, 0x70]), perLen, userData]);
  const x224 = Buffer.from([0x02, 0xf0, 0x80]);
  const tpkt = Buffer.from([0x03, 0x00, 0, 0]);
  tpkt.writeUInt16BE(4 + x224.length + mcs.length, 2);
  return Buffer.concat([tpkt, x224, mcs]);
}

/** A share control header ‖ share data header (PDUTYPE2_UPDATE) ‖ `update`, as one slow-path update PDU. */
export function slowPathUpdate(update: Buffer, opts: { channel?: number; compressedType?: number } = {}): Buffer {
  const total = 18 + update.length;
  const header = Buffer.concat([u16(total), u16(0x0017), u16(1002), u32(0x000103ea), Buffer.from([0, 1]), u16(update.length + 4), Buffer.from([0x02, opts.compressedType ?? 0]), u16(0)]);
  return slowPathFrame(Buffer.concat([header, update]), opts.channel);
}

/** A Demand Active PDU announcing a desktop of width × height (a bitmap capability set among others). */
export function demandActive(width: number, height: number, channel = 1003, bpp = 32): Buffer {
  const general = Buffer.concat([u16(0x0001), u16(24), Buffer.alloc(20)]);
  const bitmap = Buffer.concat([u16(0x0002), u16(28), u16(bpp), u16(1), u16(1), u16(1), u16(width), u16(height), u16(0), u16(1), u16(1), u16(0), u16(1), u16(0)]);
  const caps = Buffer.concat([u16(2), u16(0), general, bitmap]);
  const source = Buffer.from('RDP\0');
  const body = Buffer.concat([u16(1002), u32(0x000103ea), u16(source.length), u16(caps.length), source, caps, u32(0)]);
  return slowPathFrame(Buffer.concat([u16(4 + body.length), u16(0x0011), body]), channel);
}

/** A licensing PDU (STATUS_VALID_CLIENT) with its basic security header, as every server sends first. */
export function licenseValidClient(channel = 1003): Buffer {
  const msg = Buffer.concat([Buffer.from([0xff, 0x03]), u16(16), u32(7), u32(2), u16(4), u16(0)]);
  return slowPathFrame(Buffer.concat([u16(0x0080), u16(0), msg]), channel);
}

/** Virtual channel data (CHANNEL_PDU_HEADER ‖ data) on a static channel. */
export function channelData(channel: number, data: Buffer): Buffer {
  return slowPathFrame(Buffer.concat([u32(data.length), u32(0x03), data]), channel);
}

export interface FastPathUpdate {
  code: number;
  data: Buffer;
  /** FASTPATH_FRAGMENT_*: 0 single, 1 last, 2 first, 3 next. */
  fragmentation?: number;
}

/** A fast-path output frame carrying the given updates (no encryption: TLS). */
export function fastPathFrame(updates: FastPathUpdate[], header = 0x00): Buffer {
  const body = Buffer.concat(updates.map((u) => Buffer.concat([Buffer.from([(u.code & 0x0f) | ((u.fragmentation ?? 0) << 4)]), u16(u.data.length), u.data])));
  const len = body.length + 3;
  if (len > 0x7fff) throw new Error('a fast-path frame holds at most 32767 bytes');
  return Buffer.concat([Buffer.from([header, 0x80 | (len >> 8), len & 0xff]), body]);
}

/** One fast-path update split over several frames (FIRST, NEXT..., LAST) of at most `piece` bytes of data each. */
export function fastPathFragments(code: number, data: Buffer, piece: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let off = 0; off < data.length; off += piece) {
    const first = off === 0;
    const last = off + piece >= data.length;
    frames.push(fastPathFrame([{ code, data: data.subarray(off, off + piece), fragmentation: last ? 1 : first ? 2 : 3 }]));
  }
  return frames;
}

/** An uncompressed bitmap's bytes from top-down rows of pixel values (written bottom-up, as the wire wants). */
export function uncompressedRows(rowsTopDown: number[][], bpp: number): Buffer {
  const bpx = Math.ceil(bpp / 8);
  const rows = [...rowsTopDown].reverse();
  const out = Buffer.alloc(rows.length * rows[0]!.length * bpx);
  let o = 0;
  for (const row of rows) {
    for (const v of row) {
      out.writeUIntLE(v, o, bpx);
      o += bpx;
    }
  }
  return out;
}

/** A width × height block of one pixel value, rows top-down. */
export function solid(width: number, height: number, value: number): number[][] {
  return Array.from({ length: height }, () => Array<number>(width).fill(value));
}

export const RGB565 = { red: 0xf800, green: 0x07e0, blue: 0x001f, white: 0xffff, black: 0 };

/**
 * The RGB a 16 bpp pixel shows as in FreeRDP (the client the tests compare with): red and blue by bit
 * replication, green's six bits + g/8, at most 255.
 */
export function rgb565(v: number): number[] {
  const r = v >> 11;
  const g = (v >> 5) & 0x3f;
  const b = v & 0x1f;
  return [(r << 3) | (r >> 2), Math.min((g << 2) + (g >> 3), 255), (b << 3) | (b >> 2)];
}

// Drawing orders (MS-RDPEGDI 2.2.2), byte by byte.

export const i16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16LE(v);
  return b;
};

/** A fast-path orders update (TS_FP_UPDATE_ORDERS) holding `orders`. */
export function ordersFastPath(orders: Buffer[]): Buffer {
  return fastPathFrame([{ code: 0, data: Buffer.concat([u16(orders.length), ...orders]) }]);
}

/** A slow-path orders update (TS_UPDATE_ORDERS_PDU_DATA) holding `orders`. */
export function ordersSlowPath(orders: Buffer[]): Buffer {
  return slowPathUpdate(Buffer.concat([u16(0), u16(0), u16(orders.length), u16(0), ...orders]));
}

/**
 * A primary order: control flags, the type (unless `sameType`), `fieldBytes` bytes of field flags, the
 * bounds when given (a bounds flags byte and its values), then the fields as encoded by the caller.
 */
export function primaryOrder(o: { type: number; fieldBytes: number; present: number; fields: Buffer; delta?: boolean; sameType?: boolean; bounds?: Buffer; zeroBoundsDeltas?: boolean }): Buffer {
  const control = 0x01 | (o.sameType ? 0 : 0x08) | (o.bounds || o.zeroBoundsDeltas ? 0x04 : 0) | (o.delta ? 0x10 : 0) | (o.zeroBoundsDeltas ? 0x20 : 0);
  const flags = Buffer.alloc(o.fieldBytes);
  for (let i = 0; i < o.fieldBytes; i++) flags[i] = (o.present >> (8 * i)) & 0xff;
  return Buffer.concat([Buffer.from([control]), o.sameType ? Buffer.alloc(0) : Buffer.from([o.type]), flags, o.bounds ?? Buffer.alloc(0), o.fields]);
}

/** Absolute bounds (left, top, right, bottom, inclusive). */
export function bounds(left: number, top: number, right: number, bottom: number): Buffer {
  return Buffer.concat([Buffer.from([0x0f]), i16(left), i16(top), i16(right), i16(bottom)]);
}

/** A secondary order: its header (orderLength is the length after the type, less 7) and body. */
export function secondaryOrder(type: number, extraFlags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x03]), i16(body.length - 7), u16(extraFlags), Buffer.from([type]), body]);
}

/** Cache Bitmap revision 2, compressed, as xrdp sends it (no compression header, 14-bit length, 2-byte index). */
export function cacheBitmapRev2(o: { cacheId: number; cacheIndex: number; bpp: number; width: number; height: number; data: Buffer; compressed?: boolean }): Buffer {
  const bppId = { 8: 3, 15: 4, 16: 4, 24: 5, 32: 6 }[o.bpp]!;
  const extraFlags = (o.cacheId & 3) | (bppId << 3) | (0x08 << 7);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(o.data.length | 0x4000);
  const body = Buffer.concat([Buffer.from([o.width, o.height]), len, Buffer.from([0x80 | (o.cacheIndex >> 8), o.cacheIndex & 0xff]), o.data]);
  return secondaryOrder(o.compressed === false ? 0x04 : 0x05, extraFlags, body);
}

/** Cache Bitmap revision 1, uncompressed. */
export function cacheBitmapRev1(o: { cacheId: number; cacheIndex: number; bpp: number; width: number; height: number; data: Buffer }): Buffer {
  return secondaryOrder(0x00, 0, Buffer.concat([Buffer.from([o.cacheId, 0, o.width, o.height, o.bpp]), u16(o.data.length), u16(o.cacheIndex), o.data]));
}

/** An alternate secondary order. */
export function altsecOrder(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 2) | 0x02]), body]);
}

/**
 * How two RGBA pictures of one size differ: pixels whose R, G or B differ by more than `tolerance`, and the
 * largest channel difference (for a rendered frame against a client's screenshot).
 */
export function pictureDifference(a: { width: number; height: number; rgba: Uint8Array }, b: { width: number; height: number; rgba: Uint8Array }, tolerance = 0): { differing: number; maxDelta: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`${a.width}×${a.height} against ${b.width}×${b.height}`);
  let differing = 0;
  let maxDelta = 0;
  for (let i = 0; i < a.width * a.height * 4; i += 4) {
    const d = Math.max(Math.abs(a.rgba[i]! - b.rgba[i]!), Math.abs(a.rgba[i + 1]! - b.rgba[i + 1]!), Math.abs(a.rgba[i + 2]! - b.rgba[i + 2]!));
    if (d > tolerance) differing++;
    if (d > maxDelta) maxDelta = d;
  }
  return { differing, maxDelta };
}
