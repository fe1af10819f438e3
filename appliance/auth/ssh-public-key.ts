// SSH public keys in the two forms Warden meets them: an OpenSSH authorized_keys line a user registers, and
// the SSH wire-format blob (RFC 4253 §6.6) a client offers at login. Also the blob of an X.509 certificate's
// key, so a smart card's key can log in. ssh2 (the proxy's SSH library) reads the blob and verifies SSH
// signatures; node:crypto loads the key (so every key accepted is one OpenSSL could load). What stays here is
// what ssh2 does not do: Warden's policy (no DSA, no OpenSSH certificates, RSA of at least 2048 bits, a size
// bound) with reasons fit for the user, strictness ssh2 forgives (see parseSshPublicKey), and the other
// direction — a blob from a KeyObject (an X.509 certificate's key), which ssh2 cannot make: its parser takes
// OpenSSH and PuTTY key files and SSH blobs, never an SPKI public key.
import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import ssh2 from 'ssh2';
import { InputError } from '../errors/index.js';
import { sshFingerprint } from '../net/index.js';

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

const CURVES: Record<string, { id: string; crv: string; bits: number }> = {
  'ecdsa-sha2-nistp256': { id: 'nistp256', crv: 'P-256', bits: 256 },
  'ecdsa-sha2-nistp384': { id: 'nistp384', crv: 'P-384', bits: 384 },
  'ecdsa-sha2-nistp521': { id: 'nistp521', crv: 'P-521', bits: 521 },
};

/** OpenSSH's SHA256:… fingerprint of a key blob (one definition, net/ssh-login's). */
export { sshFingerprint };

/** The key type name a blob starts with (its first SSH string). */
function keyType(blob: Buffer): string {
  if (blob.length < 4 || blob.length < 4 + blob.readUInt32BE(0)) throw new InputError('not an OpenSSH public key: the key data is truncated');
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
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

/**
 * Read a wire-format public key blob. Throws InputError (with a reason fit for the user who registers it)
 * for a blob that is malformed, of a type Warden does not take (DSA, certificates, security keys), or weak.
 */
export function parseSshPublicKey(blob: Buffer): SshPublicKey {
  return readBlob(blob).key;
}

/** The blob read by ssh2 (which also verifies signatures with it) and checked against Warden's rules. */
function readBlob(blob: Buffer): { key: SshPublicKey; ssh2Key: ssh2.ParsedKey } {
  if (blob.length > MAX_KEY_BLOB_BYTES) throw new InputError('the key is too large');
  const algorithm = keyType(blob);
  if (algorithm === 'ssh-dss') throw new InputError('DSA keys are not accepted (OpenSSH itself disabled them): use Ed25519, ECDSA or RSA of at least 2048 bits');
  if (/-cert-v0[01]@openssh\.com$/.test(algorithm)) throw new InputError('OpenSSH certificates are not accepted here: register the plain public key');
  if (algorithm !== 'ssh-rsa' && algorithm !== 'ssh-ed25519' && !(algorithm in CURVES)) throw new InputError(`key type ${JSON.stringify(algorithm.slice(0, 64))} is not accepted: use Ed25519, ECDSA or RSA`);
  const ssh2Key = ssh2.utils.parseKey(blob);
  if (ssh2Key instanceof Error) throw new InputError('not an OpenSSH public key: the key data is truncated or malformed');
  let key: KeyObject;
  try {
    key = createPublicKey(ssh2Key.getPublicPEM());
  } catch {
    // OpenSSL refused the numbers (a point off the curve, a negative modulus...).
    throw new InputError('the key is not a valid public key');
  }
  // ssh2 forgives what OpenSSH refuses: trailing bytes, a curve name other than the type's, a compressed
  // point, non-minimal numbers. The one encoding of the key it read must be the blob itself.
  if (!sshBlobOfKey(key)?.equals(blob)) throw new InputError('not an OpenSSH public key: the key data is malformed');
  const details = key.asymmetricKeyDetails ?? {};
  const bits = algorithm === 'ssh-rsa' ? (details.modulusLength ?? 0) : algorithm === 'ssh-ed25519' ? 256 : CURVES[algorithm]!.bits;
  if (algorithm === 'ssh-rsa' && bits < MIN_RSA_BITS) throw new InputError(`RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`);
  return { key: { algorithm, blob, fingerprint: sshFingerprint(blob), bits, key }, ssh2Key };
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
  const algorithm = keyType(blob);
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

/** Does `signed` verify with the key of `keyBlob`? False for anything malformed or of a refused type. */
export function verifySshSignature(keyBlob: Buffer, signed: SshSignature): boolean {
  try {
    const { key, ssh2Key } = readBlob(keyBlob);
    // ssh2 knows each key type's hash; RSA's comes with the signature (rsa-sha2-256/512, or ssh-rsa's SHA-1).
    const hash = key.algorithm === 'ssh-rsa' ? (signed.hashAlgo ?? 'sha1') : undefined;
    if (hash !== undefined && !['sha1', 'sha256', 'sha512'].includes(hash)) return false;
    return ssh2Key.verify(signed.blob, signed.signature, hash) === true;
  } catch {
    return false;
  }
}
