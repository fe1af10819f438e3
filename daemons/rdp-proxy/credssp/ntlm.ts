// NTLMv2 client (MS-NLMP), only what CredSSP needs: NEGOTIATE, CHALLENGE parsing, AUTHENTICATE with the MIC,
// and the session's sealing (extended session security, 128-bit, key exchange) for the CredSSP messages.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import md4 from 'js-md4';
import { Rc4, rc4Once } from './rc4.js';

export class NtlmError extends Error {}

export const NEGOTIATE_UNICODE = 0x00000001;
export const REQUEST_TARGET = 0x00000004;
export const NEGOTIATE_SIGN = 0x00000010;
export const NEGOTIATE_SEAL = 0x00000020;
export const NEGOTIATE_NTLM = 0x00000200;
export const NEGOTIATE_ALWAYS_SIGN = 0x00008000;
export const NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
export const NEGOTIATE_TARGET_INFO = 0x00800000;
export const NEGOTIATE_VERSION = 0x02000000;
export const NEGOTIATE_128 = 0x20000000;
export const NEGOTIATE_KEY_EXCH = 0x40000000;
export const NEGOTIATE_56 = 0x80000000;

/** What we offer: NTLMv2 with extended session security, sealing and a random session key. */
export const CLIENT_FLAGS =
  (NEGOTIATE_56 | NEGOTIATE_KEY_EXCH | NEGOTIATE_128 | NEGOTIATE_VERSION | NEGOTIATE_EXTENDED_SESSIONSECURITY |
    NEGOTIATE_ALWAYS_SIGN | NEGOTIATE_NTLM | NEGOTIATE_SEAL | NEGOTIATE_SIGN | REQUEST_TARGET | NEGOTIATE_UNICODE) >>> 0;

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
/** Windows 10 / NTLMSSP_REVISION_W2K3: only informative, but servers log it. */
const VERSION = Buffer.from([10, 0, 0x61, 0x4a, 0, 0, 0, 0x0f]);

const AV_EOL = 0;
const AV_FLAGS = 6;
const AV_TIMESTAMP = 7;
const AV_FLAG_MIC_PRESENT = 0x2;

const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');
const hmacMd5 = (key: Uint8Array, ...data: Uint8Array[]): Buffer => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};
const md5 = (...data: Uint8Array[]): Buffer => {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return h.digest();
};

/**
 * Windows upper-cases one UTF-16 unit at a time; JavaScript's full case mapping would turn "ß" into "SS" and
 * so derive a key the server does not.
 */
function upcase(s: string): string {
  let out = '';
  for (const c of s) {
    const u = c.toUpperCase();
    out += c.length === 1 && u.length === 1 ? u : c;
  }
  return out;
}

/** NTOWFv2: HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)). */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  const pw = utf16(password);
  // js-md4 keeps its own copy of the block while hashing; ours we wipe.
  const ntHash = Buffer.from(md4.arrayBuffer(pw));
  pw.fill(0);
  const key = hmacMd5(ntHash, utf16(upcase(user) + domain));
  ntHash.fill(0);
  return key;
}

export interface V2Responses {
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
  ntProofStr: Buffer;
  sessionBaseKey: Buffer;
}

/**
 * MS-NLMP 3.3.2. `timestamp` is 8 bytes (FILETIME LE); `targetInfo` the AV pairs as the client sends them back.
 * `zeroLm`: when the server's target info carried a timestamp the client sends Z(24) as the LM response.
 */
export function v2Responses(responseKey: Buffer, serverChallenge: Buffer, clientChallenge: Buffer, timestamp: Buffer, targetInfo: Buffer, zeroLm: boolean): V2Responses {
  const temp = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestamp, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(responseKey, serverChallenge, temp);
  return {
    ntProofStr,
    ntChallengeResponse: Buffer.concat([ntProofStr, temp]),
    lmChallengeResponse: zeroLm ? Buffer.alloc(24) : Buffer.concat([hmacMd5(responseKey, serverChallenge, clientChallenge), clientChallenge]),
    sessionBaseKey: hmacMd5(responseKey, ntProofStr),
  };
}

export type Side = 'client' | 'server';

export function signKey(exportedSessionKey: Buffer, side: Side): Buffer {
  return md5(exportedSessionKey, Buffer.from(`session key to ${side === 'client' ? 'client-to-server' : 'server-to-client'} signing key magic constant\0`, 'latin1'));
}

export function sealKey(flags: number, exportedSessionKey: Buffer, side: Side): Buffer {
  const key = flags & NEGOTIATE_128 ? exportedSessionKey : exportedSessionKey.subarray(0, flags & NEGOTIATE_56 ? 7 : 5);
  return md5(key, Buffer.from(`session key to ${side === 'client' ? 'client-to-server' : 'server-to-client'} sealing key magic constant\0`, 'latin1'));
}

/**
 * One direction of the session's message security (MS-NLMP 3.4.3, extended session security, key exchange):
 * the RC4 handle runs on across messages, which must be sealed/unsealed in sequence order.
 */
export class NtlmChannel {
  private readonly rc4: Rc4;
  private seq = 0;

  constructor(private readonly sign: Buffer, seal: Buffer) {
    this.rc4 = new Rc4(seal);
  }

  /** The 16-byte signature and the sealed message (GSS_WrapEx): the message is encrypted first, then the checksum. */
  seal(plain: Buffer): { signature: Buffer; sealed: Buffer } {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(this.seq++);
    const sealed = this.rc4.update(plain);
    const checksum = this.rc4.update(hmacMd5(this.sign, seq, plain).subarray(0, 8));
    return { signature: Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seq]), sealed };
  }

  /** The plaintext of a message the peer sealed; throws NtlmError when its signature does not verify. */
  unseal(signature: Buffer, sealed: Buffer): Buffer {
    if (signature.length !== 16 || signature.readUInt32LE(0) !== 1) throw new NtlmError('bad message signature');
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(this.seq++);
    const plain = this.rc4.update(sealed);
    const expected = this.rc4.update(hmacMd5(this.sign, seq, plain).subarray(0, 8));
    if (!timingSafeEqual(expected, signature.subarray(4, 12)) || !seq.equals(signature.subarray(12, 16))) {
      throw new NtlmError('message signature does not verify');
    }
    return plain;
  }

  wipe(): void {
    this.rc4.wipe();
    this.sign.fill(0);
  }
}

export function negotiateMessage(flags = CLIENT_FLAGS): Buffer {
  const m = Buffer.alloc(40);
  SIGNATURE.copy(m, 0);
  m.writeUInt32LE(1, 8);
  m.writeUInt32LE(flags, 12);
  // Domain and workstation fields empty, their offsets at the end of the fixed part.
  m.writeUInt32LE(40, 20);
  m.writeUInt32LE(40, 28);
  VERSION.copy(m, 32);
  return m;
}

export interface Challenge {
  flags: number;
  serverChallenge: Buffer;
  /** Raw AV pairs, as the server sent them. */
  targetInfo: Buffer;
}

function field(msg: Buffer, at: number, what: string): Buffer {
  const len = msg.readUInt16LE(at);
  const off = msg.readUInt32LE(at + 4);
  if (off + len > msg.length) throw new NtlmError(`${what} overruns the message`);
  return msg.subarray(off, off + len);
}

export function parseChallenge(msg: Buffer): Challenge {
  if (msg.length < 48 || !msg.subarray(0, 8).equals(SIGNATURE) || msg.readUInt32LE(8) !== 2) throw new NtlmError('not an NTLM CHALLENGE message');
  const flags = msg.readUInt32LE(20);
  const targetInfo = flags & NEGOTIATE_TARGET_INFO ? field(msg, 40, 'target info') : Buffer.alloc(0);
  return { flags, serverChallenge: Buffer.from(msg.subarray(24, 32)), targetInfo: Buffer.from(targetInfo) };
}

/** AV pairs as [id, value] in order, up to (not including) MsvAvEOL. */
export function parseAvPairs(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let at = 0; ; ) {
    if (at + 4 > buf.length) throw new NtlmError('target info without its end marker');
    const id = buf.readUInt16LE(at);
    const len = buf.readUInt16LE(at + 2);
    if (id === AV_EOL) return out;
    if (at + 4 + len > buf.length) throw new NtlmError('target info pair overruns');
    out.push([id, buf.subarray(at + 4, at + 4 + len)]);
    at += 4 + len;
  }
}

function encodeAvPairs(pairs: Array<[number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [id, value] of [...pairs, [AV_EOL, Buffer.alloc(0)] as [number, Buffer]]) {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(id, 0);
    h.writeUInt16LE(value.length, 2);
    parts.push(h, value);
  }
  return Buffer.concat(parts);
}

export interface AuthenticateInput {
  negotiate: Buffer;
  challenge: Buffer;
  user: string;
  domain: string;
  password: string;
  workstation: string;
  /** Injected by the MS-NLMP vector tests; random otherwise. */
  clientChallenge?: Buffer;
  exportedSessionKey?: Buffer;
  /** FILETIME, used when the server's target info has no timestamp. */
  now?: Date;
}

export interface NtlmSession {
  message: Buffer;
  flags: number;
  client: NtlmChannel;
  server: NtlmChannel;
}

function filetime(d: Date): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE((BigInt(d.getTime()) + 11644473600000n) * 10000n);
  return b;
}

/** The AUTHENTICATE message for a CHALLENGE, and the session's sealing channels. */
export function authenticate(input: AuthenticateInput): NtlmSession {
  const ch = parseChallenge(input.challenge);
  // The credentials travel sealed under these keys: no 40/56-bit keys, no NTLMv1-style sealing.
  const need = NEGOTIATE_UNICODE | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_SEAL | NEGOTIATE_SIGN | NEGOTIATE_128;
  if ((ch.flags & need) >>> 0 !== need >>> 0) {
    throw new NtlmError(`server's NTLM flags 0x${ch.flags.toString(16)} lack unicode, extended session security, sealing or 128-bit keys`);
  }
  const flags = (CLIENT_FLAGS & ch.flags) >>> 0;

  const pairs = parseAvPairs(ch.targetInfo.length > 0 ? ch.targetInfo : Buffer.alloc(4));
  const ts = pairs.find(([id]) => id === AV_TIMESTAMP);
  if (ts && ts[1].length !== 8) throw new NtlmError('bad timestamp in target info');
  // With the server's timestamp the client MUST add a MIC over the three messages (MS-NLMP 3.1.5.1.2).
  const withMic = ts !== undefined;
  if (withMic) {
    const fl = pairs.find(([id]) => id === AV_FLAGS);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(((fl && fl[1].length === 4 ? fl[1].readUInt32LE(0) : 0) | AV_FLAG_MIC_PRESENT) >>> 0);
    if (fl) fl[1] = v;
    else pairs.push([AV_FLAGS, v]);
  }
  const targetInfo = ch.targetInfo.length > 0 || withMic ? encodeAvPairs(pairs) : Buffer.alloc(0);

  const clientChallenge = input.clientChallenge ?? randomBytes(8);
  const responseKey = ntowfv2(input.password, input.user, input.domain);
  let r: V2Responses;
  try {
    r = v2Responses(responseKey, ch.serverChallenge, clientChallenge, ts ? ts[1] : filetime(input.now ?? new Date()), targetInfo, withMic);
  } finally {
    responseKey.fill(0);
  }

  // NTLMv2: KeyExchangeKey = SessionBaseKey.
  const keyExchangeKey = r.sessionBaseKey;
  let exported: Buffer;
  let encryptedRandomSessionKey: Buffer = Buffer.alloc(0);
  if (flags & NEGOTIATE_KEY_EXCH) {
    exported = input.exportedSessionKey ? Buffer.from(input.exportedSessionKey) : randomBytes(16);
    encryptedRandomSessionKey = rc4Once(keyExchangeKey, exported);
  } else exported = Buffer.from(keyExchangeKey);
  keyExchangeKey.fill(0);
  try {
    return buildAuthenticate(input, flags, r, encryptedRandomSessionKey, exported, withMic);
  } finally {
    exported.fill(0);
  }
}

function buildAuthenticate(input: AuthenticateInput, flags: number, r: V2Responses, encryptedRandomSessionKey: Buffer, exported: Buffer, withMic: boolean): NtlmSession {
  // [header slot, payload], the payload in the order Windows writes it.
  const fields: Array<[number, Buffer]> = [
    [28, utf16(input.domain)],
    [36, utf16(input.user)],
    [44, utf16(input.workstation)],
    [12, r.lmChallengeResponse],
    [20, r.ntChallengeResponse],
    [52, encryptedRandomSessionKey],
  ];
  const header = Buffer.alloc(88);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let off = header.length;
  for (const [slot, p] of fields) {
    if (p.length > 0xffff) throw new NtlmError('AUTHENTICATE field too long');
    header.writeUInt16LE(p.length, slot);
    header.writeUInt16LE(p.length, slot + 2);
    header.writeUInt32LE(off, slot + 4);
    off += p.length;
  }
  header.writeUInt32LE(flags, 60);
  VERSION.copy(header, 64);
  const message = Buffer.concat([header, ...fields.map(([, p]) => p)]);
  if (withMic) hmacMd5(exported, input.negotiate, input.challenge, message).copy(message, 72);

  const clientSeal = sealKey(flags, exported, 'client');
  const serverSeal = sealKey(flags, exported, 'server');
  const session: NtlmSession = {
    message,
    flags,
    client: new NtlmChannel(signKey(exported, 'client'), clientSeal),
    server: new NtlmChannel(signKey(exported, 'server'), serverSeal),
  };
  clientSeal.fill(0);
  serverSeal.fill(0);
  return session;
}
