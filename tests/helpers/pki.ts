// A test PKI made with @peculiar/x509 on WebCrypto (ECDSA P-256): CAs, intermediates, client certificates
// with any flaw a test needs, and CRLs. Keys export as PKCS#8 PEM for browsers and curl.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { Store } from '../../appliance/store/index.js';
import { webcrypto, randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 86_400_000;

export interface Issued {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  pem: string;
  serial: string;
}

function serial(): string {
  // Positive, 16 bytes, first nibble not 8-f.
  return '1' + randomBytes(15).toString('hex');
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

function pem(cert: x509.X509Certificate): string {
  return cert.toString('pem') + '\n';
}

export async function createCa(name: string, opts: { parent?: Issued; notBefore?: Date; notAfter?: Date; /** Reuse a key pair (a CA certificate renewed with the same key). */ keys?: webcrypto.CryptoKeyPair } = {}): Promise<Issued> {
  const keys = opts.keys ?? (await keyPair());
  const s = serial();
  const notBefore = opts.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = opts.notAfter ?? new Date(Date.now() + 365 * DAY);
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const cert = opts.parent
    ? await x509.X509CertificateGenerator.create({
        serialNumber: s,
        subject: `CN=${name}, O=Warden Test`,
        issuer: opts.parent.cert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: opts.parent.keys.privateKey,
        extensions,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: s,
        name: `CN=${name}, O=Warden Test`,
        notBefore,
        notAfter,
        signingAlgorithm: ALG,
        keys: keys,
        extensions,
      });
  return { cert, keys, pem: pem(cert), serial: s };
}

export interface LeafOptions {
  commonName: string;
  email?: string;
  /** Where the e-mail goes: SAN rfc822Name (default) or the subject's emailAddress. */
  emailIn?: 'san' | 'subject';
  eku?: string[] | null;
  notBefore?: Date;
  notAfter?: Date;
  /** Self-sign with this subject instead of being issued by `ca` (a forgery). */
  selfSignedAs?: string;
  /** Extra bytes to pad the certificate (for a huge certificate). */
  padBytes?: number;
  /** Use this key pair (e.g. one whose private key lives on a token). */
  publicKey?: webcrypto.CryptoKey;
}

export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export async function issueLeaf(ca: Issued, o: LeafOptions): Promise<Issued> {
  const keys = o.publicKey ? ({ publicKey: o.publicKey } as webcrypto.CryptoKeyPair) : await keyPair();
  const s = serial();
  const subject = o.selfSignedAs ?? (o.email && o.emailIn === 'subject' ? `CN=${o.commonName}, E=${o.email}` : `CN=${o.commonName}`);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  ];
  const eku = o.eku === undefined ? [EKU_CLIENT_AUTH] : o.eku;
  if (eku) extensions.push(new x509.ExtendedKeyUsageExtension(eku));
  if (o.email && o.emailIn !== 'subject') extensions.push(new x509.SubjectAlternativeNameExtension([{ type: 'email', value: o.email }]));
  if (o.padBytes) extensions.push(new x509.Extension('1.3.6.1.4.1.55555.1', false, new Uint8Array(o.padBytes)));
  const base = {
    serialNumber: s,
    notBefore: o.notBefore ?? new Date(Date.now() - DAY),
    notAfter: o.notAfter ?? new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    extensions,
  };
  let cert: x509.X509Certificate;
  if (o.selfSignedAs) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ ...base, name: o.selfSignedAs, keys: keys });
  } else {
    cert = await x509.X509CertificateGenerator.create({
      ...base,
      subject,
      issuer: ca.cert.subject,
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
    });
  }
  return { cert, keys, pem: pem(cert), serial: s };
}

export async function createCrl(ca: Issued, revoked: Issued[], opts: { signer?: Issued } = {}): Promise<string> {
  const signer = opts.signer ?? ca;
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + 7 * DAY),
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(Date.now() - 30_000), reason: x509.X509CrlReason.keyCompromise })),
    signingAlgorithm: ALG,
    signingKey: signer.keys.privateKey,
  });
  return crl.toString('pem') + '\n';
}

export function der(issued: Issued): Buffer {
  return Buffer.from(issued.cert.rawData);
}

/** The "Acceptable client certificate CA names" OpenSSL's s_client reads from the CertificateRequest. */
export function advertisedCaNames(port: number): Promise<string[]> {
  return new Promise((resolve) => {
    const p = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3'], { timeout: 10_000 }, (_err, stdout) => {
      const m = /Acceptable client certificate CA names\n([\s\S]*?)\n(?:Requested|Client Certificate Types|Shared)/.exec(stdout);
      resolve(m ? m[1]!.split('\n').map((l) => l.trim()).filter(Boolean) : []);
    });
    p.stdin?.end('Q\n');
  });
}

/**
 * A certificate bound to an account, written into the appliance's SQLite store as a certificate login writes it
 * (for tests of what lists and revokes bindings; the login itself is certificate-login.test's).
 */
export async function insertBinding(sqlitePath: string, b: { userId: number; leaf: Issued; issuer: Issued; fingerprint: string; subject: string; email: string; revokedBy?: string }): Promise<void> {
  const store = await Store.open({ sqlitePath });
  try {
    const now = Date.now();
    await store.repos.userCertificates.insert({
      user_id: b.userId,
      fingerprint: b.fingerprint,
      issuer: b.issuer.cert.subject,
      serial: b.leaf.serial,
      subject: b.subject,
      email: b.email,
      not_before: b.leaf.cert.notBefore.getTime(),
      not_after: b.leaf.cert.notAfter.getTime(),
      pem: b.leaf.pem,
      chain_pem: b.issuer.pem,
      status: b.revokedBy ? 'revoked' : 'bound',
      bound_at: now,
      first_used_at: now,
      last_used_at: now,
      revoked_at: b.revokedBy ? now : null,
      revoked_by: b.revokedBy ?? null,
    });
  } finally {
    await store.close();
  }
}
