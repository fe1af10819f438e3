// Reading certificates and CRLs from bytes a person or a client hands us: PEM (one or many) or DER, with a
// size cap before any parser runs. Anything malformed is one clear CERT_MALFORMED error.
import { X509Certificate } from 'node:crypto';
import { WardenError } from '../errors/index.js';

/**
 * @peculiar/x509 (CRL parsing and certificate generation) is loaded on first use: it costs ~150 ms at
 * every daemon and orbit start otherwise. It resolves services through tsyringe, which needs the Reflect
 * metadata polyfill loaded first.
 */
export async function peculiar(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const { webcrypto } = await import('node:crypto');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

/** A certificate bigger than this is refused before parsing (real ones are 1–4 KiB). */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;
/** A file of CA certificates or a CRL may be larger, but not without bound. */
export const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const OID_ANY_EKU = '2.5.29.37.0';

export class CertificateError extends WardenError {
  constructor(message: string) {
    super('INPUT_INVALID', message);
    this.name = 'CertificateError';
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Split PEM text into DER blocks of the given label; DER input is returned as one block. */
export function derBlocks(input: Buffer | string, label: string | string[], maxBytes = MAX_BUNDLE_BYTES): Buffer[] {
  const labels = Array.isArray(label) ? label : [label];
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length === 0) throw new CertificateError('the file is empty');
  if (bytes.length > maxBytes) throw new CertificateError(`the input is larger than ${maxBytes} bytes`);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks: Buffer[] = [];
    for (const m of text.matchAll(PEM_BLOCK)) {
      if (!labels.includes(m[1]!)) continue;
      const b64 = m[2]!.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new CertificateError(`a ${m[1]} block is not valid base64`);
      blocks.push(Buffer.from(b64, 'base64'));
    }
    if (blocks.length === 0) throw new CertificateError(`no ${labels[0]} block found`);
    return blocks;
  }
  return [bytes];
}

export function parseCertificate(der: Buffer, maxBytes = MAX_CERTIFICATE_BYTES): X509Certificate {
  if (der.length > maxBytes) throw new CertificateError(`a certificate is larger than ${maxBytes} bytes`);
  try {
    return new X509Certificate(der);
  } catch {
    throw new CertificateError('not a valid X.509 certificate');
  }
}

/** Every certificate in a PEM bundle or a DER file. */
export function parseCertificates(input: Buffer | string): X509Certificate[] {
  return derBlocks(input, 'CERTIFICATE').map((d) => parseCertificate(d));
}

export function toPem(cert: X509Certificate): string {
  return cert.toString().trim() + '\n';
}

export function notBefore(cert: X509Certificate): number {
  return Date.parse(cert.validFrom);
}

export function notAfter(cert: X509Certificate): number {
  return Date.parse(cert.validTo);
}

/** One-line distinguished name ("CN=alice, O=Example"), for tables and logs. */
export function dn(name: string): string {
  return name.split('\n').join(', ');
}

/**
 * The certificate's e-mail: the first SAN rfc822Name, else the subject's emailAddress; '' if none.
 * node:crypto prints SAN entries as `type:value` joined by ", ", quoting (JSON) any value that holds
 * a comma or quote, and the subject one attribute per line.
 */
export function certificateEmail(cert: X509Certificate): string {
  const san = cert.subjectAltName ?? '';
  for (const m of san.matchAll(/(?:^|, )email:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[1]!;
    try {
      return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    } catch {
      return '';
    }
  }
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('emailAddress=')) return line.slice('emailAddress='.length);
  }
  return '';
}

/** Extended key usages, or undefined when the extension is absent (node:crypto calls it keyUsage). */
export function extendedKeyUsage(cert: X509Certificate): string[] | undefined {
  return cert.keyUsage ?? undefined;
}

export interface ParsedCrl {
  issuer: string;
  thisUpdate: number;
  nextUpdate: number | null;
  serials: { serial: string; revokedAt: number }[];
  der: Buffer;
  verify: (issuer: X509Certificate) => Promise<boolean>;
}

/** Normalize a serial number as node:crypto prints it: upper-case hex, no leading zero bytes. */
export function normalizeSerial(hex: string): string {
  const s = hex.replace(/[^0-9a-f]/gi, '').toUpperCase().replace(/^(00)+(?=.)/, '');
  return s.length % 2 === 1 ? `0${s}` : s;
}

export async function parseCrl(input: Buffer | string): Promise<ParsedCrl> {
  // OpenSSL writes "X509 CRL"; some tools write "CRL".
  const [der] = derBlocks(input, ['X509 CRL', 'CRL']);
  const x509 = await peculiar();
  let crl: import('@peculiar/x509').X509Crl;
  try {
    crl = new x509.X509Crl(der!);
  } catch {
    throw new CertificateError('not a valid X.509 CRL');
  }
  return {
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate.getTime(),
    nextUpdate: crl.nextUpdate ? crl.nextUpdate.getTime() : null,
    serials: crl.entries.map((e) => ({ serial: normalizeSerial(e.serialNumber), revokedAt: e.revocationDate.getTime() })),
    der: der!,
    verify: async (issuer) => {
      try {
        const pub = new x509.X509Certificate(issuer.raw).publicKey;
        return await crl.verify({ publicKey: pub });
      } catch {
        return false;
      }
    },
  };
}

/** Does `issuer` (by name and signature) issue `cert`? */
export function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Are two distinguished names (as node:crypto prints them, one attribute per line) the same name to a TLS
 * stack? OpenSSL compares names in a canonical form (case folded, inner whitespace collapsed), so
 * "CN=Test  root" names the same CA as "CN=Test Root".
 */
export function sameDistinguishedName(a: string, b: string): boolean {
  const canonical = (name: string) =>
    name
      .split('\n')
      .map((l) => l.trim().replace(/\s+/g, ' ').toLowerCase())
      .join('\n');
  return canonical(a) === canonical(b);
}

/** Same name, whatever the signature: for telling "forged" from "unknown". */
export function namedIssuer(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.issuer === issuer.subject;
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && issuedBy(cert, cert);
}
