// The Client Info PDU's data (MS-RDPBCGR 2.2.1.11.1): a basic security header with SEC_INFO_PKT, then
// TS_INFO_PACKET (2.2.1.11.1.1) carrying domain, user name and password. The relay reads the Warden login from
// it and writes the target's copy with the vaulted credential, so the cb* lengths are recomputed on build.
import { ByteReader, ByteWriter } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';

/** Basic security header flags (2.2.8.1.1.2.1). */
export const SEC_EXCHANGE_PKT = 0x0001;
export const SEC_ENCRYPT = 0x0008;
export const SEC_INFO_PKT = 0x0040;
export const SEC_LICENSE_PKT = 0x0080;

/** TS_INFO_PACKET flags. */
export const INFO_MOUSE = 0x00000001;
export const INFO_DISABLECTRLALTDEL = 0x00000002;
export const INFO_AUTOLOGON = 0x00000008;
export const INFO_UNICODE = 0x00000010;
export const INFO_MAXIMIZESHELL = 0x00000020;
export const INFO_LOGONNOTIFY = 0x00000040;
export const INFO_COMPRESSION = 0x00000080;
export const INFO_ENABLEWINDOWSKEY = 0x00000100;
export const INFO_REMOTECONSOLEAUDIO = 0x00002000;
export const INFO_FORCE_ENCRYPTED_CS_PDU = 0x00004000;
export const INFO_RAIL = 0x00008000;
export const INFO_LOGONERRORS = 0x00010000;
export const INFO_MOUSE_HAS_WHEEL = 0x00020000;
export const INFO_PASSWORD_IS_SC_PIN = 0x00040000;
export const INFO_NOAUDIOPLAYBACK = 0x00080000;
export const INFO_USING_SAVED_CREDS = 0x00100000;
export const INFO_AUDIOCAPTURE = 0x00200000;
export const INFO_VIDEO_DISABLE = 0x00400000;
export const INFO_HIDEF_RAIL_SUPPORTED = 0x02000000;
/** CompressionTypeMask: bits 9-12 name the bulk compressor (MPPC 8K/64K, RDP 6.0, 6.1). */
export const COMPRESSION_TYPE_MASK = 0x00001e00;

/** Longest field accepted either way, in bytes without the terminator (2.2.1.11.1.1 allows 512 for each). */
export const MAX_INFO_FIELD = 512;

export interface ClientInfo {
  codePage: number;
  flags: number;
  domain: string;
  userName: string;
  password: string;
  alternateShell: string;
  workingDir: string;
  /** The extended info packet (client address, time zone, performance flags, ...), raw, kept as sent. */
  extra: Buffer;
  /** The security header's flags (SEC_INFO_PKT set). */
  securityFlags: number;
  securityFlagsHi?: number;
  /** INFO_UNICODE: strings are UTF-16LE (every current client); else the client's ANSI code page. */
  unicode: boolean;
}

const FIELDS = ['domain', 'userName', 'password', 'alternateShell', 'workingDir'] as const;

/**
 * True when the data starts with a security header carrying SEC_INFO_PKT. Only the Client Info and licence PDUs
 * have a security header under TLS, so this is meant for the client's Send Data on the I/O channel before the
 * capability exchange; later PDUs start with a share control header, whose pduType (read here as flagsHi) always
 * carries the protocol version bit 0x10, which rules most of them out, but not every totalLength.
 */
export function isClientInfo(data: Buffer): boolean {
  if (data.length < 4 + 18) return false;
  const flags = data.readUInt16LE(0);
  const flagsHi = data.readUInt16LE(2);
  return (flags & SEC_INFO_PKT) !== 0 && (flags & (SEC_EXCHANGE_PKT | SEC_ENCRYPT | SEC_LICENSE_PKT)) === 0 && (flagsHi & 0x10) === 0;
}

export function parseClientInfo(data: Buffer): ClientInfo {
  const r = new ByteReader(data, 'Client Info');
  const securityFlags = r.u16le('security flags');
  const securityFlagsHi = r.u16le('security flagsHi');
  check((securityFlags & SEC_INFO_PKT) !== 0, 'Client Info: security header without SEC_INFO_PKT');
  check((securityFlags & SEC_ENCRYPT) === 0, 'Client Info: encrypted (standard RDP security is not supported)');
  const codePage = r.u32le('CodePage');
  const flags = r.u32le('flags');
  const unicode = (flags & INFO_UNICODE) !== 0;
  const sizes = FIELDS.map((f) => r.u16le(`cb ${f}`));
  const values: string[] = [];
  FIELDS.forEach((field, i) => {
    const cb = sizes[i]!;
    check(cb <= MAX_INFO_FIELD, `Client Info: ${field} of ${cb} bytes (at most ${MAX_INFO_FIELD})`);
    if (unicode) check(cb % 2 === 0, `Client Info: ${field} has an odd byte count in Unicode`);
    const raw = r.bytes(cb, field);
    // The terminator is not counted in cb but always sent.
    r.skip(unicode ? 2 : 1, `${field} terminator`);
    values.push(unicode ? raw.toString('utf16le') : raw.toString('latin1'));
  });
  const extra = Buffer.from(r.bytes(r.remaining, 'extended info'));
  return {
    codePage,
    flags,
    domain: values[0]!,
    userName: values[1]!,
    password: values[2]!,
    alternateShell: values[3]!,
    workingDir: values[4]!,
    extra,
    securityFlags,
    securityFlagsHi,
    unicode,
  };
}

function encode(s: string, unicode: boolean, field: string): Buffer {
  if (unicode) return Buffer.from(s, 'utf16le');
  if (!/^[\x00-\xff]*$/.test(s)) throw new RdpProtocolError(`Client Info: ${field} has characters an ANSI Client Info cannot carry`);
  return Buffer.from(s, 'latin1');
}

/** Security header + TS_INFO_PACKET with cb* recomputed; INFO_UNICODE follows `info.unicode`. */
export function buildClientInfo(info: ClientInfo): Buffer {
  if (info.securityFlags & SEC_ENCRYPT) throw new RdpProtocolError('Client Info: SEC_ENCRYPT cannot be built (TLS only)');
  const flags = info.unicode ? info.flags | INFO_UNICODE : info.flags & ~INFO_UNICODE;
  const encoded = FIELDS.map((f) => {
    const b = encode(info[f], info.unicode, f);
    if (b.length > MAX_INFO_FIELD) throw new RdpProtocolError(`Client Info: ${f} of ${b.length} bytes (at most ${MAX_INFO_FIELD})`);
    return b;
  });
  const w = new ByteWriter()
    .u16le((info.securityFlags | SEC_INFO_PKT) & 0xffff)
    .u16le(info.securityFlagsHi ?? 0)
    .u32le(info.codePage)
    .u32le(flags >>> 0);
  for (const b of encoded) w.u16le(b.length);
  for (const b of encoded) w.bytes(b).zeros(info.unicode ? 2 : 1);
  const out = w.bytes(info.extra).toBuffer();
  for (const b of encoded) b.fill(0);
  return out;
}

/**
 * The target's copy of a client's info: the vaulted credential in, autologon on, the shell maximised, bulk
 * compression off (so the recorded updates can be decoded), a smart-card PIN flag dropped.
 */
export function clientInfoForTarget(info: ClientInfo, cred: { domain: string; userName: string; password: string }): ClientInfo {
  const flags = ((info.flags | INFO_AUTOLOGON | INFO_MAXIMIZESHELL) & ~(INFO_COMPRESSION | COMPRESSION_TYPE_MASK | INFO_PASSWORD_IS_SC_PIN)) >>> 0;
  return { ...info, flags, domain: cred.domain, userName: cred.userName, password: cred.password, extra: Buffer.from(info.extra) };
}
