// The client's Confirm Active PDU (MS-RDPBCGR 2.2.1.13.2), read out of a Send Data Request's data (under TLS
// no security header precedes it). The relay narrows what the client offers so the target answers with updates
// the recording can decode: no bitmap codecs (RemoteFX, NSCodec, ...) and no surface commands that carry them,
// and, unless asked to keep them, no drawing orders (the server then paints with bitmap updates only).
import { ByteReader, ByteWriter } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';

export const PDUTYPE_DEMANDACTIVEPDU = 0x1;
export const PDUTYPE_CONFIRMACTIVEPDU = 0x3;
export const PDUTYPE_DEACTIVATEALLPDU = 0x6;
export const PDUTYPE_DATAPDU = 0x7;
export const PDUTYPE_SERVER_REDIR_PKT = 0xa;

export const CAPSETTYPE_GENERAL = 0x01;
export const CAPSETTYPE_BITMAP = 0x02;
export const CAPSETTYPE_ORDER = 0x03;
export const CAPSETTYPE_BITMAPCACHE = 0x04;
export const CAPSETTYPE_CONTROL = 0x05;
export const CAPSETTYPE_ACTIVATION = 0x07;
export const CAPSETTYPE_POINTER = 0x08;
export const CAPSETTYPE_SHARE = 0x09;
export const CAPSETTYPE_COLORCACHE = 0x0a;
export const CAPSETTYPE_SOUND = 0x0c;
export const CAPSETTYPE_INPUT = 0x0d;
export const CAPSETTYPE_FONT = 0x0e;
export const CAPSETTYPE_BRUSH = 0x0f;
export const CAPSETTYPE_GLYPHCACHE = 0x10;
export const CAPSETTYPE_OFFSCREENCACHE = 0x11;
export const CAPSETTYPE_BITMAPCACHE_HOSTSUPPORT = 0x12;
export const CAPSETTYPE_BITMAPCACHE_REV2 = 0x13;
export const CAPSETTYPE_VIRTUALCHANNEL = 0x14;
export const CAPSETTYPE_DRAWNINEGRIDCACHE = 0x15;
export const CAPSETTYPE_DRAWGDIPLUS = 0x16;
export const CAPSETTYPE_RAIL = 0x17;
export const CAPSETTYPE_WINDOW = 0x18;
export const CAPSETTYPE_COMPDESK = 0x19;
export const CAPSETTYPE_MULTIFRAGMENTUPDATE = 0x1a;
export const CAPSETTYPE_LARGE_POINTER = 0x1b;
export const CAPSETTYPE_SURFACE_COMMANDS = 0x1c;
export const CAPSETTYPE_BITMAP_CODECS = 0x1d;
export const CAPSETTYPE_FRAME_ACKNOWLEDGE = 0x1e;

/** In TS_ORDER_CAPABILITYSET, from the capability set's start: orderSupport[32] and orderSupportExFlags. */
const ORDER_SUPPORT_AT = 36;
const ORDER_SUPPORT_EX_AT = 70;
/** In TS_OFFSCREEN_CAPABILITYSET: offscreenSupportLevel (u32). */
const OFFSCREEN_SUPPORT_AT = 4;

export interface CapabilitySet {
  type: number;
  /** The whole set, header included (a view). */
  bytes: Buffer;
}

export interface ConfirmActive {
  pduSource: number;
  shareId: number;
  originatorId: number;
  sourceDescriptor: Buffer;
  capabilitySets: CapabilitySet[];
}

/** The share control header's type says Confirm Active; meaningful on the client's I/O channel data. */
export function isConfirmActive(data: Buffer): boolean {
  return data.length >= 6 && (data.readUInt16LE(2) & 0x0f) === PDUTYPE_CONFIRMACTIVEPDU && data.readUInt16LE(0) !== 0x8000;
}

export function parseConfirmActive(data: Buffer): ConfirmActive {
  const r = new ByteReader(data, 'Confirm Active');
  const totalLength = r.u16le('totalLength');
  check(totalLength === data.length, `Confirm Active: totalLength ${totalLength} but ${data.length} bytes`);
  const pduType = r.u16le('pduType');
  check((pduType & 0x0f) === PDUTYPE_CONFIRMACTIVEPDU, `Confirm Active: pduType 0x${pduType.toString(16)}`);
  const pduSource = r.u16le('pduSource');
  const shareId = r.u32le('shareId');
  const originatorId = r.u16le('originatorId');
  const lengthSourceDescriptor = r.u16le('lengthSourceDescriptor');
  const lengthCombinedCapabilities = r.u16le('lengthCombinedCapabilities');
  const sourceDescriptor = r.bytes(lengthSourceDescriptor, 'sourceDescriptor');
  check(lengthCombinedCapabilities === r.remaining, `Confirm Active: lengthCombinedCapabilities ${lengthCombinedCapabilities} but ${r.remaining} bytes follow`);
  const capabilitySets = readCapabilitySets(r, data);
  r.done();
  return { pduSource, shareId, originatorId, sourceDescriptor, capabilitySets };
}

export interface DemandActive {
  pduSource: number;
  shareId: number;
  sourceDescriptor: Buffer;
  capabilitySets: CapabilitySet[];
  sessionId: number;
  /** From the bitmap capability set: the desktop the server will paint (it may differ from what the client asked). */
  desktop?: { width: number; height: number; bitsPerPixel: number };
}

export function isDemandActive(data: Buffer): boolean {
  return data.length >= 6 && (data.readUInt16LE(2) & 0x0f) === PDUTYPE_DEMANDACTIVEPDU && data.readUInt16LE(0) !== 0x8000;
}

/** The server's Demand Active (2.2.1.13.1), for the desktop size and colour depth the recording starts from. */
export function parseDemandActive(data: Buffer): DemandActive {
  const r = new ByteReader(data, 'Demand Active');
  const totalLength = r.u16le('totalLength');
  check(totalLength === data.length, `Demand Active: totalLength ${totalLength} but ${data.length} bytes`);
  const pduType = r.u16le('pduType');
  check((pduType & 0x0f) === PDUTYPE_DEMANDACTIVEPDU, `Demand Active: pduType 0x${pduType.toString(16)}`);
  const pduSource = r.u16le('pduSource');
  const shareId = r.u32le('shareId');
  const lengthSourceDescriptor = r.u16le('lengthSourceDescriptor');
  const lengthCombinedCapabilities = r.u16le('lengthCombinedCapabilities');
  const sourceDescriptor = r.bytes(lengthSourceDescriptor, 'sourceDescriptor');
  const caps = r.sub(lengthCombinedCapabilities, 'Demand Active capabilities');
  const capabilitySets = readCapabilitySets(caps, data);
  caps.done();
  // sessionId follows the sets; some old servers leave it out.
  const sessionId = r.remaining >= 4 ? r.u32le('sessionId') : 0;
  const out: DemandActive = { pduSource, shareId, sourceDescriptor, capabilitySets, sessionId };
  const bitmap = capabilitySets.find((c) => c.type === CAPSETTYPE_BITMAP);
  if (bitmap && bitmap.bytes.length >= 16) {
    // TS_BITMAP_CAPABILITYSET: preferredBitsPerPixel at 4, desktopWidth at 12, desktopHeight at 14.
    out.desktop = { bitsPerPixel: bitmap.bytes.readUInt16LE(4), width: bitmap.bytes.readUInt16LE(12), height: bitmap.bytes.readUInt16LE(14) };
  }
  return out;
}

/** numberCapabilities, pad, then the sets, each with its own length; views into `buf`. */
function readCapabilitySets(r: ByteReader, buf: Buffer): CapabilitySet[] {
  const numberCapabilities = r.u16le('numberCapabilities');
  r.u16le('pad2Octets');
  const sets: CapabilitySet[] = [];
  for (let i = 0; i < numberCapabilities; i++) {
    const start = r.offset;
    const type = r.u16le('capabilitySetType');
    const length = r.u16le('lengthCapability');
    check(length >= 4, `${r.what}: capability set 0x${type.toString(16)} has length ${length}`);
    r.skip(length - 4, `capability set 0x${type.toString(16)}`);
    sets.push({ type, bytes: buf.subarray(start, start + length) });
  }
  return sets;
}

export function buildConfirmActive(ca: ConfirmActive): Buffer {
  const caps = Buffer.concat(ca.capabilitySets.map((c) => c.bytes));
  const lengthCombined = 4 + caps.length;
  const total = 6 + 4 + 2 + 2 + 2 + ca.sourceDescriptor.length + lengthCombined;
  if (total > 0xffff) throw new RdpProtocolError(`Confirm Active: ${total} bytes do not fit totalLength`);
  return new ByteWriter()
    .u16le(total)
    .u16le(0x10 | PDUTYPE_CONFIRMACTIVEPDU)
    .u16le(ca.pduSource)
    .u32le(ca.shareId)
    .u16le(ca.originatorId)
    .u16le(ca.sourceDescriptor.length)
    .u16le(lengthCombined)
    .bytes(ca.sourceDescriptor)
    .u16le(ca.capabilitySets.length)
    .u16le(0)
    .bytes(caps)
    .toBuffer();
}

/**
 * A new Confirm Active keeping the graphics decodable: the bitmap codecs and surface commands sets dropped, lossy
 * planar (AYCoCg colour loss and subsampling) not allowed, and
 * (unless keepOrders) drawing orders switched off (orderSupport zeroed, offscreen cache off, the DrawNineGrid and
 * GDI+ sets dropped). Lengths and the set count are recomputed.
 */
/** TS_BITMAP_CAPABILITYSET's drawingFlags byte (after the 4-byte set header and 19 bytes of fields). */
const BITMAP_DRAWING_FLAGS_AT = 23;
export const DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY = 0x02;
export const DRAW_ALLOW_COLOR_SUBSAMPLING = 0x04;

export function rewriteConfirmActive(data: Buffer, opts: { keepOrders?: boolean } = {}): Buffer {
  const ca = parseConfirmActive(data);
  const drop = new Set([CAPSETTYPE_BITMAP_CODECS, CAPSETTYPE_SURFACE_COMMANDS]);
  if (!opts.keepOrders) {
    drop.add(CAPSETTYPE_DRAWNINEGRIDCACHE);
    drop.add(CAPSETTYPE_DRAWGDIPLUS);
  }
  const sets: CapabilitySet[] = [];
  for (const set of ca.capabilitySets) {
    if (drop.has(set.type)) continue;
    if (set.type === CAPSETTYPE_BITMAP && set.bytes.length > BITMAP_DRAWING_FLAGS_AT) {
      // Planar bitmaps in their lossy AYCoCg form (colour fidelity reduced, chroma subsampled) have no test
      // vector to decode them by: the target is not allowed to send them.
      const copy = Buffer.from(set.bytes);
      copy[BITMAP_DRAWING_FLAGS_AT] = copy[BITMAP_DRAWING_FLAGS_AT]! & ~(DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW_COLOR_SUBSAMPLING);
      sets.push({ type: set.type, bytes: copy });
      continue;
    }
    if (!opts.keepOrders && set.type === CAPSETTYPE_ORDER) {
      check(set.bytes.length >= ORDER_SUPPORT_EX_AT + 2, `Confirm Active: order capability set of ${set.bytes.length} bytes`);
      const copy = Buffer.from(set.bytes);
      copy.fill(0, ORDER_SUPPORT_AT, ORDER_SUPPORT_AT + 32);
      copy.writeUInt16LE(0, ORDER_SUPPORT_EX_AT);
      sets.push({ type: set.type, bytes: copy });
      continue;
    }
    if (!opts.keepOrders && set.type === CAPSETTYPE_OFFSCREENCACHE && set.bytes.length >= OFFSCREEN_SUPPORT_AT + 4) {
      const copy = Buffer.from(set.bytes);
      copy.writeUInt32LE(0, OFFSCREEN_SUPPORT_AT);
      sets.push({ type: set.type, bytes: copy });
      continue;
    }
    sets.push(set);
  }
  return buildConfirmActive({ ...ca, capabilitySets: sets });
}
