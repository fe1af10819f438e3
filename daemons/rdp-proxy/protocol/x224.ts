// X.224 class 0 (ISO 8073) as RDP uses it: the Connection Request carrying the routing token or cookie and the
// RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1), the Connection Confirm with RDP_NEG_RSP or RDP_NEG_FAILURE (2.2.1.2), and
// the 3-byte Data TPDU header in front of every MCS PDU.
import { ByteReader, ByteWriter, checkRange } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';
import { tpktPayload, wrapTpkt } from './tpkt.js';

export const PROTOCOL_RDP = 0;
export const PROTOCOL_SSL = 1;
export const PROTOCOL_HYBRID = 2;
export const PROTOCOL_RDSTLS = 4;
export const PROTOCOL_HYBRID_EX = 8;
export const PROTOCOL_RDSAAD = 0x10;

export const TYPE_RDP_NEG_REQ = 1;
export const TYPE_RDP_NEG_RSP = 2;
export const TYPE_RDP_NEG_FAILURE = 3;
export const TYPE_RDP_CORRELATION_INFO = 6;

/** RDP_NEG_REQ flags. */
export const RESTRICTED_ADMIN_MODE_REQUIRED = 0x01;
export const REDIRECTED_AUTHENTICATION_MODE_REQUIRED = 0x02;
export const CORRELATION_INFO_PRESENT = 0x08;

/** RDP_NEG_RSP flags. */
export const EXTENDED_CLIENT_DATA_SUPPORTED = 0x01;
export const DYNVC_GFX_PROTOCOL_SUPPORTED = 0x02;
export const RESTRICTED_ADMIN_MODE_SUPPORTED = 0x08;
export const REDIRECTED_AUTHENTICATION_MODE_SUPPORTED = 0x10;

/** RDP_NEG_FAILURE codes. */
export const SSL_REQUIRED_BY_SERVER = 1;
export const SSL_NOT_ALLOWED_BY_SERVER = 2;
export const SSL_CERT_NOT_ON_SERVER = 3;
export const INCONSISTENT_FLAGS = 4;
export const HYBRID_REQUIRED_BY_SERVER = 5;
export const SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER = 6;

/** TPDU codes (high nibble of the second byte). */
export const X224_CONNECTION_REQUEST = 0xe0;
export const X224_CONNECTION_CONFIRM = 0xd0;
export const X224_DISCONNECT_REQUEST = 0x80;
export const X224_DATA = 0xf0;
export const X224_ERROR = 0x70;

const COOKIE_PREFIX = 'Cookie: mstshash=';
/** Longest routing token or cookie line accepted; real ones are tens of bytes. */
export const MAX_TOKEN_LENGTH = 1024;

export interface ConnectionRequest {
  /** The value after 'Cookie: mstshash=' (the user name most clients send). */
  cookie?: string;
  /** Any other first line without its CRLF, e.g. 'tsv://warden/TICKET' or 'Cookie: msts=...'. */
  routingToken?: string;
  /** undefined when the client sent no RDP_NEG_REQ (it then speaks standard RDP security only). */
  requestedProtocols?: number;
  negFlags: number;
  /** The 16-byte correlation id of RDP_NEG_CORRELATION_INFO, when sent. */
  correlationId?: Buffer;
}

export interface X224Header {
  /** TPDU code: X224_CONNECTION_REQUEST, X224_DATA, ... */
  code: number;
  /** CR/CC and others: the variable part, inside the length indicator's span. DT: the user data after it. */
  body: Buffer;
  /** The fixed part after the code byte (references and class for CR/CC, EOT for DT). */
  fixed: Buffer;
}

/** The TPKT and X.224 headers of a frame, checked; the length indicator must fit the frame. */
export function parseX224(frame: Buffer): X224Header {
  const payload = tpktPayload(frame);
  const r = new ByteReader(payload, 'X.224');
  const li = r.u8('length indicator');
  if (li < 2 || li === 0xff) throw new RdpProtocolError(`X.224: length indicator ${li}`);
  const header = r.sub(li, 'X.224 header');
  const code = header.u8('TPDU code') & 0xf0;
  const fixedLength = code === X224_DATA ? 1 : code === X224_CONNECTION_REQUEST || code === X224_CONNECTION_CONFIRM ? 5 : header.remaining;
  const fixed = header.bytes(Math.min(fixedLength, header.remaining), 'X.224 fixed part');
  if (fixed.length !== fixedLength) throw new RdpProtocolError(`X.224: fixed part of TPDU 0x${code.toString(16)} truncated`);
  if (code === X224_DATA) {
    // The variable part of a CR/CC lies inside the length indicator's span; a DT's user data follows it.
    header.done();
    return { code, fixed, body: r.bytes(r.remaining, 'user data') };
  }
  const body = header.bytes(header.remaining, 'variable part');
  r.done();
  return { code, fixed, body };
}

/** The MCS bytes of an X.224 Data TPDU (02 f0 80); throws for any other TPDU. */
export function x224DataPayload(frame: Buffer): Buffer {
  const h = parseX224(frame);
  if (h.code !== X224_DATA) throw new RdpProtocolError(`X.224: expected a Data TPDU, found code 0x${h.code.toString(16)}`);
  check(h.fixed[0] === 0x80, 'X.224: Data TPDU without EOT (segmented data is not used by RDP)');
  return h.body;
}

export function isX224Data(frame: Buffer): boolean {
  return frame.length >= 7 && frame[0] === 3 && frame[4] === 2 && (frame[5]! & 0xf0) === X224_DATA;
}

/** TPKT + X.224 Data TPDU around MCS bytes. */
export function wrapX224Data(mcs: Buffer): Buffer {
  return wrapTpkt(Buffer.concat([Buffer.of(2, X224_DATA, 0x80), mcs]));
}

export function parseConnectionRequest(frame: Buffer): ConnectionRequest {
  const h = parseX224(frame);
  check(h.code === X224_CONNECTION_REQUEST, `X.224: expected a Connection Request, found code 0x${h.code.toString(16)}`);
  check((h.fixed[4]! & 0xf0) === 0, `X.224 Connection Request: class ${h.fixed[4]! >> 4}, RDP uses class 0`);
  const r = new ByteReader(h.body, 'X.224 Connection Request');
  const out: ConnectionRequest = { negFlags: 0 };
  // A token line is text ending in CRLF; an RDP_NEG_REQ starts with the byte 0x01, which no text line does.
  if (r.remaining > 0 && r.peekU8('variable part') !== TYPE_RDP_NEG_REQ) {
    const crlf = h.body.indexOf('\r\n');
    check(crlf >= 0, 'X.224 Connection Request: routing token or cookie without CRLF');
    check(crlf <= MAX_TOKEN_LENGTH, `X.224 Connection Request: token line of ${crlf} bytes`);
    const line = r.bytes(crlf, 'token');
    r.skip(2, 'CRLF');
    for (const b of line) check(b >= 0x20 && b < 0x7f, 'X.224 Connection Request: token line holds a non-printable byte');
    const text = line.toString('latin1');
    if (text.startsWith(COOKIE_PREFIX)) out.cookie = text.slice(COOKIE_PREFIX.length);
    else out.routingToken = text;
  }
  if (r.remaining > 0) {
    const type = r.u8('RDP_NEG_REQ type');
    check(type === TYPE_RDP_NEG_REQ, `X.224 Connection Request: negotiation type ${type}, expected RDP_NEG_REQ`);
    out.negFlags = r.u8('RDP_NEG_REQ flags');
    const len = r.u16le('RDP_NEG_REQ length');
    check(len === 8, `X.224 Connection Request: RDP_NEG_REQ length ${len}`);
    out.requestedProtocols = r.u32le('requestedProtocols');
    if (r.remaining > 0) {
      // RDP_NEG_CORRELATION_INFO (2.2.1.1.2): mstsc sends it when CORRELATION_INFO_PRESENT is set.
      const ctype = r.u8('correlation info type');
      check(ctype === TYPE_RDP_CORRELATION_INFO, `X.224 Connection Request: ${r.remaining + 1} unexpected bytes after RDP_NEG_REQ`);
      r.u8('correlation info flags');
      const clen = r.u16le('correlation info length');
      check(clen === 36, `X.224 Connection Request: correlation info length ${clen}`);
      out.correlationId = Buffer.from(r.bytes(16, 'correlationId'));
      r.skip(16, 'correlation info reserved');
    }
  }
  r.done();
  return out;
}

function connectionTpdu(code: number, srcRef: number, variable: Buffer): Buffer {
  const li = 6 + variable.length;
  checkRange(li, 6, 0xfe, 'X.224 length indicator');
  const w = new ByteWriter().u8(li).u8(code).u16be(0).u16be(srcRef).u8(0).bytes(variable);
  return wrapTpkt(w.toBuffer());
}

function tokenLine(value: string, field: string): Buffer {
  if (value.length > MAX_TOKEN_LENGTH || !/^[\x20-\x7e]*$/.test(value)) throw new RdpProtocolError(`X.224 Connection Request: ${field} must be printable ASCII up to ${MAX_TOKEN_LENGTH} bytes`);
  return Buffer.from(`${value}\r\n`, 'latin1');
}

export function buildConnectionRequest(o: { cookie?: string; routingToken?: string; requestedProtocols: number; negFlags?: number }): Buffer {
  if (o.cookie !== undefined && o.routingToken !== undefined) throw new RdpProtocolError('X.224 Connection Request: a cookie or a routing token, not both');
  checkRange(o.requestedProtocols, 0, 0xffffffff, 'requestedProtocols');
  const w = new ByteWriter();
  if (o.cookie !== undefined) w.bytes(tokenLine(COOKIE_PREFIX + o.cookie, 'cookie'));
  if (o.routingToken !== undefined) w.bytes(tokenLine(o.routingToken, 'routing token'));
  w.u8(TYPE_RDP_NEG_REQ).u8(o.negFlags ?? 0).u16le(8).u32le(o.requestedProtocols);
  return connectionTpdu(X224_CONNECTION_REQUEST, 0, w.toBuffer());
}

/** X.224 Connection Confirm with RDP_NEG_RSP; the source reference 0x1234 is what 3.3.5.3.2 asks servers to send. */
export function buildConnectionConfirm(selectedProtocol: number, flags = 0): Buffer {
  checkRange(selectedProtocol, 0, 0xffffffff, 'selectedProtocol');
  checkRange(flags, 0, 0xff, 'RDP_NEG_RSP flags');
  const neg = new ByteWriter().u8(TYPE_RDP_NEG_RSP).u8(flags).u16le(8).u32le(selectedProtocol).toBuffer();
  return connectionTpdu(X224_CONNECTION_CONFIRM, 0x1234, neg);
}

export function buildNegotiationFailure(code: number): Buffer {
  checkRange(code, 0, 0xffffffff, 'failureCode');
  const neg = new ByteWriter().u8(TYPE_RDP_NEG_FAILURE).u8(0).u16le(8).u32le(code).toBuffer();
  return connectionTpdu(X224_CONNECTION_CONFIRM, 0x1234, neg);
}

export function parseConnectionConfirm(frame: Buffer): { selectedProtocol: number; flags: number } | { failure: number } {
  const h = parseX224(frame);
  check(h.code === X224_CONNECTION_CONFIRM, `X.224: expected a Connection Confirm, found code 0x${h.code.toString(16)}`);
  const r = new ByteReader(h.body, 'X.224 Connection Confirm');
  // No negotiation data: an old server choosing standard RDP security.
  if (r.remaining === 0) return { selectedProtocol: PROTOCOL_RDP, flags: 0 };
  const type = r.u8('negotiation type');
  const flags = r.u8('negotiation flags');
  const len = r.u16le('negotiation length');
  check(len === 8, `X.224 Connection Confirm: negotiation length ${len}`);
  const value = r.u32le('negotiation value');
  r.done();
  if (type === TYPE_RDP_NEG_RSP) return { selectedProtocol: value, flags };
  if (type === TYPE_RDP_NEG_FAILURE) return { failure: value };
  throw new RdpProtocolError(`X.224 Connection Confirm: negotiation type ${type}`);
}
