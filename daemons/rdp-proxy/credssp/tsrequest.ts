// TSRequest and TSCredentials of MS-CSSP 2.2.1, in the hand-written DER of ./der.ts.
import { DerError, TAG_BIT_STRING, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, children, ctxTag, explicit, inner, integer, octetString, readInteger, readTlv, sequence } from './der.js';

export interface TsRequest {
  version: number;
  /** The first negoToken of negoTokens: NTLM carries one message per TSRequest. */
  negoToken?: Buffer;
  authInfo?: Buffer;
  pubKeyAuth?: Buffer;
  /** An NTSTATUS, unsigned. */
  errorCode?: number;
  clientNonce?: Buffer;
}

export function encodeTsRequest(r: TsRequest): Buffer {
  const parts = [explicit(0, integer(r.version))];
  if (r.negoToken) parts.push(explicit(1, sequence(sequence(explicit(0, octetString(r.negoToken))))));
  if (r.authInfo) parts.push(explicit(2, octetString(r.authInfo)));
  if (r.pubKeyAuth) parts.push(explicit(3, octetString(r.pubKeyAuth)));
  if (r.errorCode !== undefined) parts.push(explicit(4, integer(r.errorCode)));
  if (r.clientNonce) parts.push(explicit(5, octetString(r.clientNonce)));
  return sequence(...parts);
}

const contentOf = (buf: Buffer, t: { start: number; end: number }): Buffer => Buffer.from(buf.subarray(t.start, t.end));

/** One whole TSRequest; throws DerError on anything malformed, out of order or trailing. */
export function decodeTsRequest(buf: Buffer): TsRequest {
  const top = readTlv(buf, 0);
  if (top.tag !== TAG_SEQUENCE || top.next !== buf.length) throw new DerError('TSRequest is not one SEQUENCE');
  let last = -1;
  let version: number | undefined;
  const r: Omit<TsRequest, 'version'> = {};
  for (const f of children(buf, top)) {
    const n = f.tag & 0x1f;
    if ((f.tag & 0xe0) !== 0xa0 || n > 5 || n <= last) throw new DerError(`unexpected field tag 0x${f.tag.toString(16)} in TSRequest`);
    last = n;
    switch (n) {
      case 0:
        version = readInteger(buf, inner(buf, f, TAG_INTEGER));
        break;
      case 1: {
        const list = inner(buf, f, TAG_SEQUENCE);
        const items = children(buf, list);
        if (items.length === 0) break;
        const first = items[0]!;
        if (first.tag !== TAG_SEQUENCE) throw new DerError('NegoData item is not a SEQUENCE');
        const fields = children(buf, first);
        if (fields.length !== 1 || fields[0]!.tag !== ctxTag(0)) throw new DerError('NegoData item without negoToken');
        r.negoToken = contentOf(buf, inner(buf, fields[0]!, TAG_OCTET_STRING));
        break;
      }
      case 2:
        r.authInfo = contentOf(buf, inner(buf, f, TAG_OCTET_STRING));
        break;
      case 3:
        r.pubKeyAuth = contentOf(buf, inner(buf, f, TAG_OCTET_STRING));
        break;
      case 4:
        r.errorCode = readInteger(buf, inner(buf, f, TAG_INTEGER)) >>> 0;
        break;
      case 5:
        r.clientNonce = contentOf(buf, inner(buf, f, TAG_OCTET_STRING));
        break;
    }
  }
  if (version === undefined) throw new DerError('TSRequest without version');
  return { version, ...r };
}

/** TSCredentials { credType 1 (password), TSPasswordCreds { domain, user, password } }, all UTF-16LE. */
export function encodeTsPasswordCredentials(domain: Buffer, user: Buffer, password: Buffer): Buffer {
  // Every intermediate copy holding the password is wiped; the caller wipes `password` and the result.
  const pw = octetString(password);
  const pwField = explicit(2, pw);
  const creds = sequence(explicit(0, octetString(domain)), explicit(1, octetString(user)), pwField);
  const credsOctets = octetString(creds);
  const credsField = explicit(1, credsOctets);
  const out = sequence(explicit(0, integer(1)), credsField);
  for (const b of [pw, pwField, creds, credsOctets, credsField]) b.fill(0);
  return out;
}

/**
 * The SubjectPublicKey of an X.509 certificate (the BIT STRING's bytes inside SubjectPublicKeyInfo, without
 * the unused-bits byte), read from the certificate's own DER so the bytes are exactly what the server hashes.
 */
export function subjectPublicKey(certDer: Buffer): Buffer {
  const cert = readTlv(certDer, 0);
  if (cert.tag !== TAG_SEQUENCE) throw new DerError('certificate is not a SEQUENCE');
  const tbs = readTlv(certDer, cert.start, cert.end);
  if (tbs.tag !== TAG_SEQUENCE) throw new DerError('tbsCertificate is not a SEQUENCE');
  const fields = children(certDer, tbs);
  // [0] version (optional), serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
  const spki = fields[fields[0]?.tag === ctxTag(0) ? 6 : 5];
  if (!spki || spki.tag !== TAG_SEQUENCE) throw new DerError('no SubjectPublicKeyInfo');
  const parts = children(certDer, spki);
  const bits = parts[1];
  if (parts.length !== 2 || !bits || bits.tag !== TAG_BIT_STRING || bits.end - bits.start < 2 || certDer[bits.start] !== 0) {
    throw new DerError('bad subjectPublicKey');
  }
  return Buffer.from(certDer.subarray(bits.start + 1, bits.end));
}
