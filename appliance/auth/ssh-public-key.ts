// SSH public keys in the two forms Warden meets them: an OpenSSH authorized_keys line a user registers, and
// the SSH wire-format blob (RFC 4253 §6.6) a client offers at login. Also the blob of an X.509 certificate's
// key, so a smart card's key can log in. node:crypto does the key mathematics (JWK in, KeyObject out); this
// file only reads and writes the SSH framing, so every key it accepts is one OpenSSL could load.
import { createHash, createPublicKey, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { InputError } from '../errors/index.js';

export interface SshPublicKey {
  /** The key type as OpenSSH names it (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ...). */
  algorithm: string;
  /** The wire-format blob. */
  blob: Buffer;
  /** "SHA256:" + unpadded base64 of SHA-256(blob), exactly as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** Key size in bits (RSA modulus, EC curve size, 256 for Ed25519). */
  bits: number;
  key: KeyObject;
}

export interface AuthorizedKey extends SshPublicKey {
  comment: string;
}

/** The smallest RSA modulus accepted (NIST SP 800-131A; OpenSSH 9 refuses less than 1024 and warns below 2048). */
export const MIN_RSA_BITS = 2048;
/** No real key blob comes near this (RSA-16384 is about 2 KiB): a bound on what is parsed and stored. */
export const MAX_KEY_BLOB_BYTES = 8192;

const CURVES: Record<string, { id: string; crv: string; bits: number; coord: number }> = {
  'ecdsa-sha2-nistp256': { id: 'nistp256', crv: 'P-256', bits: 256, coord: 32 },
  'ecdsa-sha2-nistp384': { id: 'nistp384', crv: 'P-384', bits: 384, coord: 48 },
  'ecdsa-sha2-nistp521': { id: 'nistp521', crv: 'P-521', bits: 521, coord: 66 },
};

export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  string(): Buffer {
    if (this.pos + 4 > this.buf.length) throw new InputError('not an OpenSSH public key: the key data is truncated');
    const len = this.buf.readUInt32BE(this.pos);
    if (this.pos + 4 + len > this.buf.length) throw new InputError('not an OpenSSH public key: the key data is truncated');
    const out = this.buf.subarray(this.pos + 4, this.pos + 4 + len);
    this.pos += 4 + len;
    return out;
  }
  /** An mpint as unsigned big-endian bytes (no sign octet); negative values are refused. */
  mpint(): Buffer {
    const b = this.string();
    if (b.length > 0 && b[0]! & 0x80) throw new InputError('the key holds a negative number');
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new InputError('the key has trailing bytes');
  }
}

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return sshString(v.length > 0 && v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

const b64url = (b: Buffer) => b.toString('base64url');

function bitLength(b: Buffer): number {
  if (b.length === 0) return 0;
  return (b.length - 1) * 8 + (32 - Math.clz32(b[0]!));
}

/**
 * Read a wire-format public key blob. Throws InputError (with a reason fit for the user who registers it)
 * for a blob that is malformed, of a type Warden does not take (DSA, certificates, security keys), or weak.
 */
export function parseSshPublicKey(blob: Buffer): SshPublicKey {
  if (blob.length > MAX_KEY_BLOB_BYTES) throw new InputError('the key is too large');
  const r = new Reader(blob);
  const algorithm = r.string().toString('latin1');
  let key: KeyObject;
  let bits: number;
  try {
    if (algorithm === 'ssh-rsa') {
      const e = r.mpint();
      const n = r.mpint();
      r.end();
      bits = bitLength(n);
      if (bits < MIN_RSA_BITS) throw new InputError(`RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`);
      key = createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    } else if (algorithm in CURVES) {
      const c = CURVES[algorithm]!;
      const id = r.string().toString('latin1');
      const q = r.string();
      r.end();
      if (id !== c.id) throw new InputError(`the key names curve ${id} but is of type ${algorithm}`);
      if (q.length !== 1 + 2 * c.coord || q[0] !== 0x04) throw new InputError('the key holds a malformed curve point');
      bits = c.bits;
      key = createPublicKey({ key: { kty: 'EC', crv: c.crv, x: b64url(q.subarray(1, 1 + c.coord)), y: b64url(q.subarray(1 + c.coord)) }, format: 'jwk' });
    } else if (algorithm === 'ssh-ed25519') {
      const a = r.string();
      r.end();
      if (a.length !== 32) throw new InputError('an Ed25519 key is 32 bytes');
      bits = 256;
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(a) }, format: 'jwk' });
    } else if (algorithm === 'ssh-dss') {
      throw new InputError('DSA keys are not accepted (OpenSSH itself disabled them): use Ed25519, ECDSA or RSA of at least 2048 bits');
    } else if (/-cert-v0[01]@openssh\.com$/.test(algorithm)) {
      throw new InputError('OpenSSH certificates are not accepted here: register the plain public key');
    } else {
      throw new InputError(`key type ${JSON.stringify(algorithm.slice(0, 64))} is not accepted: use Ed25519, ECDSA or RSA`);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    // OpenSSL refused the numbers (a point off the curve, an even modulus...).
    throw new InputError('the key is not a valid public key');
  }
  return { algorithm, blob, fingerprint: sshFingerprint(blob), bits, key };
}

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|PuTTY-User-Key-File/;

/**
 * Read one OpenSSH authorized_keys line: "TYPE BASE64 [comment]". Options before the type (from=, command=)
 * are refused rather than silently dropped: Warden would not apply them. A private key is refused without
 * echoing any of it.
 */
export function parseAuthorizedKeyLine(input: string): AuthorizedKey {
  if (typeof input !== 'string') throw new InputError('the key must be a string', { field: 'key' });
  if (PRIVATE_KEY.test(input)) throw new InputError('this is a private key: register the public key (the .pub file) and keep the private key to yourself', { field: 'key' });
  const lines = input.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new InputError('the key is empty: paste one line of an authorized_keys file (e.g. the content of id_ed25519.pub)', { field: 'key' });
  if (lines.length > 1) throw new InputError('one key per request: the text holds several lines', { field: 'key' });
  const line = lines[0]!;
  if (line.length > 16_384) throw new InputError('the key line is too long', { field: 'key' });
  const m = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(line);
  if (!m) {
    if (/^\S+\s+\S+\s+[A-Za-z0-9+/]{40,}={0,2}(\s|$)/.test(line) || /^[a-z-]+=/.test(line)) throw new InputError('authorized_keys options (from=, command=, ...) are not accepted: register the bare key line', { field: 'key' });
    throw new InputError('not an OpenSSH public key line: expected "TYPE BASE64 [comment]", e.g. "ssh-ed25519 AAAA... alice@laptop"', { field: 'key' });
  }
  const blob = Buffer.from(m[2]!, 'base64');
  let parsed: SshPublicKey;
  try {
    parsed = parseSshPublicKey(blob);
  } catch (e) {
    throw e instanceof InputError ? new InputError(e.message, { field: 'key' }) : e;
  }
  if (parsed.algorithm !== m[1]) throw new InputError(`the line says ${JSON.stringify(m[1]!.slice(0, 64))} but the key is ${parsed.algorithm}`, { field: 'key' });
  const comment = (m[3] ?? '').trim();
  // The comment is shown back in lists: the same text rules as any name, bounded.
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(comment) || !comment.isWellFormed()) throw new InputError('the key comment contains control characters', { field: 'key' });
  return { ...parsed, comment: [...comment].slice(0, 255).join('') };
}

/**
 * The SSH wire-format blob of a certificate's public key (RSA, ECDSA P-256/384/521, Ed25519), or undefined
 * for a key SSH cannot carry. This is what an SSH client offers when the certificate's key sits on a smart
 * card (`ssh -I libpkcs11.so`), so comparing blobs tells whether a login key is the certificate's.
 */
export function sshBlobOfKey(key: KeyObject): Buffer | undefined {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return Buffer.concat([sshString('ssh-rsa'), mpint(Buffer.from(jwk.e, 'base64url')), mpint(Buffer.from(jwk.n, 'base64url'))]);
  }
  if (jwk.kty === 'EC' && jwk.x && jwk.y) {
    const entry = Object.entries(CURVES).find(([, c]) => c.crv === jwk.crv);
    if (!entry) return undefined;
    const [algorithm, c] = entry;
    return Buffer.concat([sshString(algorithm), sshString(c.id), sshString(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]))]);
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) return Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(jwk.x, 'base64url'))]);
  return undefined;
}

export function sshBlobOfCertificate(cert: X509Certificate): Buffer | undefined {
  return sshBlobOfKey(cert.publicKey);
}

/** The authorized_keys line of a blob (for showing a certificate's key to its owner). */
export function authorizedKeyLine(blob: Buffer, comment = ''): string {
  const algorithm = new Reader(blob).string().toString('latin1');
  return `${algorithm} ${blob.toString('base64')}${comment ? ' ' + comment : ''}`;
}

/**
 * A client's SSH signature as ssh2 hands it to a server's authentication handler: `blob` the signed data
 * (session id + userauth request, `ctx.blob`), `signature` the signature bytes with the SSH framing removed
 * (`ctx.signature`; DER for ECDSA), `hashAlgo` for RSA (`ctx.hashAlgo`: sha256 for rsa-sha2-256, ...).
 */
export interface SshSignature {
  blob: Buffer;
  signature: Buffer;
  hashAlgo?: string;
}

const DEFAULT_HASH: Record<string, string | null> = {
  'ssh-rsa': 'sha1',
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'ssh-ed25519': null,
};

/** Does `signed` verify with the key of `keyBlob`? False for anything malformed or of a refused type. */
export function verifySshSignature(keyBlob: Buffer, signed: SshSignature): boolean {
  try {
    const key = parseSshPublicKey(keyBlob);
    const hash = key.algorithm === 'ssh-rsa' ? (signed.hashAlgo ?? 'sha1') : DEFAULT_HASH[key.algorithm];
    if (hash === undefined || (key.algorithm === 'ssh-rsa' && !['sha1', 'sha256', 'sha512'].includes(hash ?? ''))) return false;
    return verify(hash, signed.blob, key.key, signed.signature);
  } catch {
    return false;
  }
}
