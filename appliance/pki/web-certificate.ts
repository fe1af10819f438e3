// The web daemon's own TLS certificate, replaced from the console: a certificate from the deployer's CA (with
// its key, or with the key a CSR left waiting on the appliance), or a new self-signed one. Every pair is
// checked before a byte is written (the key belongs to the certificate, valid now, the chain in order, fit
// for a TLS server); then key and certificate are each replaced atomically, keeping the mode and owner the
// running daemon reads them with. The daemon watches the files and swaps its TLS context.
import { webcrypto, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { InputError } from '../errors/index.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, replaceFile } from '../config/index.js';
import { validateDnsName } from '../system/index.js';
import { derBlocks, parseCertificate, peculiar } from './certificates.js';
import { createSelfSignedTlsCertificate } from './tls-certificate.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

export interface WebTlsFiles {
  certFile: string;
  keyFile: string;
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER, as colon-separated hex (what browsers show). */
  fingerprint: string;
  serial: string;
  selfSigned: boolean;
  /** How many CA certificates follow the leaf in the file. */
  chainLength: number;
}

/** Where a CSR's key waits for its signed certificate: beside the live key, as private as it. */
export function pendingKeyFile(files: WebTlsFiles): string {
  return `${files.keyFile}.pending`;
}

function sansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter(Boolean)
    .map((s) => {
      const ip = /^IP Address:(.*)$/.exec(s)?.[1];
      if (ip === undefined) return s;
      // node:crypto writes IPv6 uncompressed (0:0:0:0:0:0:0:1); the URL parser gives the usual short form.
      return `IP:${isIP(ip) === 6 ? new URL(`http://[${ip}]`).hostname.slice(1, -1) : ip}`;
    });
}

export function certificateFacts(pem: string | Buffer): CertificateFacts {
  const certs = derBlocks(pem, 'CERTIFICATE').map((d) => parseCertificate(d));
  const leaf = certs[0]!;
  return {
    subject: leaf.subject.split('\n').join(', '),
    issuer: leaf.issuer.split('\n').join(', '),
    sans: sansOf(leaf),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: new Date(leaf.validTo).toISOString(),
    fingerprint: leaf.fingerprint256,
    serial: leaf.serialNumber,
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    chainLength: certs.length - 1,
  };
}

/** The certificate the web daemon serves now, or null when there is none (or it cannot be read). */
export function currentWebCertificate(files: WebTlsFiles): CertificateFacts | null {
  try {
    return certificateFacts(readFileSync(files.certFile));
  } catch {
    return null;
  }
}

function readKey(keyPem: string | Buffer, what: string): KeyObject {
  const text = keyPem.toString();
  if (/ENCRYPTED/.test(text)) throw new InputError(`${what} is encrypted: give the key without a passphrase (openssl pkey -in KEY -out PLAIN)`, { field: 'key' });
  try {
    return createPrivateKey(keyPem);
  } catch {
    throw new InputError(`${what} is not a private key in PEM (PKCS#8, PKCS#1 or SEC1)`, { field: 'key' });
  }
}

function certificates(pem: string | Buffer, what: string): X509Certificate[] {
  try {
    return derBlocks(pem, 'CERTIFICATE').map((d) => parseCertificate(d));
  } catch (e) {
    throw new InputError(`${what}: ${(e as Error).message}`, { field: what });
  }
}

/**
 * The certificate file's text (leaf then chain) once the pair is known to work for a TLS server now; any
 * flaw is an InputError naming it.
 */
export function checkWebCertificate(input: { certPem: string | Buffer; keyPem: string | Buffer; chainPem?: string | Buffer; keyWhat?: string }, now = Date.now()): { fullchainPem: string; facts: CertificateFacts } {
  const certs = certificates(input.certPem, 'the certificate');
  if (input.chainPem !== undefined) certs.push(...certificates(input.chainPem, 'the chain'));
  const leaf = certs[0]!;
  const key = readKey(input.keyPem, input.keyWhat ?? 'the key');
  if (!leaf.checkPrivateKey(key)) throw new InputError(`${input.keyWhat ?? 'the key'} does not match the certificate (${leaf.subject.split('\n').join(', ')}): its public key is another`, { field: 'key' });
  if (now < Date.parse(leaf.validFrom)) throw new InputError(`the certificate is not valid yet: valid from ${new Date(leaf.validFrom).toISOString()}`, { field: 'cert' });
  if (now > Date.parse(leaf.validTo)) throw new InputError(`the certificate has expired: valid until ${new Date(leaf.validTo).toISOString()}`, { field: 'cert' });
  if (leaf.ca) throw new InputError('the certificate is a CA certificate, not a server certificate', { field: 'cert' });
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(SERVER_AUTH) && !eku.includes(ANY_EKU)) {
    throw new InputError('the certificate is not for TLS servers: its extended key usage lacks serverAuth', { field: 'cert' });
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new InputError(`the chain is out of order: "${child.subject.split('\n').join(', ')}" is not issued by the next certificate, "${parent.subject.split('\n').join(', ')}" (leaf first, then each issuer)`, { field: 'chain' });
    }
  }
  const fullchainPem = certs.map((c) => c.toString().trim()).join('\n') + '\n';
  return { fullchainPem, facts: certificateFacts(fullchainPem) };
}

/** A change to the web certificate, checked and ready: what it installs, and the writes that do it. */
export interface WebCertificatePlan {
  facts: CertificateFacts;
  previous: CertificateFacts | null;
  /** The key came from a CSR made earlier on this appliance. */
  usedPendingKey: boolean;
  /** Replace key then certificate (each atomically); the pending key, if used, is removed after. */
  write(): void;
}

/**
 * Replace `file` with `data` at once. An existing file's mode and owner are kept (the daemon reading it runs
 * as its own user; the owner only when orbit runs as root); a new one takes those of `like`, or is private (0600).
 */
export function replaceFileAtomically(file: string, data: string, like?: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  replaceFile(file, data, { mode: PRIVATE_FILE_MODE, like: like ? [file, like] : [file], ownerOnlyAsRoot: true });
}

function plan(files: WebTlsFiles, fullchainPem: string, keyPem: string, facts: CertificateFacts, usedPendingKey: boolean): WebCertificatePlan {
  return {
    facts,
    previous: currentWebCertificate(files),
    usedPendingKey,
    write: () => {
      // The key first: a daemon reading between the two renames finds a pair that does not match, keeps
      // its old context and takes the new one at the second change.
      replaceFileAtomically(files.keyFile, keyPem);
      replaceFileAtomically(files.certFile, fullchainPem, files.keyFile);
      if (usedPendingKey) unlinkSync(pendingKeyFile(files));
    },
  };
}

/**
 * A certificate from the deployer's CA. Without `keyPem` the key is the one `orbit cert web csr` left
 * waiting; a certificate that matches neither is refused.
 */
export function planWebCertificateInstall(files: WebTlsFiles, input: { certPem: string | Buffer; keyPem?: string | Buffer; chainPem?: string | Buffer }, now = Date.now()): WebCertificatePlan {
  let keyPem = input.keyPem;
  let usedPendingKey = false;
  if (keyPem === undefined) {
    try {
      keyPem = readFileSync(pendingKeyFile(files));
    } catch {
      throw new InputError('no key given and no key waiting from "orbit cert web csr": give --key, or make a CSR first', { field: 'key' });
    }
    usedPendingKey = true;
  }
  const checked = checkWebCertificate({ ...input, keyPem, ...(usedPendingKey ? { keyWhat: 'the key waiting from "orbit cert web csr"' } : {}) }, now);
  return plan(files, checked.fullchainPem, keyPem.toString(), checked.facts, usedPendingKey);
}

/** A new self-signed certificate (ECDSA P-256) for `host`, also valid for localhost and the loopback addresses. */
export async function planSelfSignedWebCertificate(files: WebTlsFiles, opts: { host: string; days?: number }): Promise<WebCertificatePlan> {
  const host = isIP(opts.host) ? opts.host : validateDnsName(opts.host, 'host');
  const pair = await createSelfSignedTlsCertificate({
    commonName: host,
    dnsNames: [...new Set([...(isIP(host) ? [] : [host]), 'localhost'])],
    ipAddresses: [...new Set([...(isIP(host) ? [host] : []), '127.0.0.1', '::1'])],
    days: opts.days ?? 825,
  });
  const checked = checkWebCertificate({ certPem: pair.certPem, keyPem: pair.keyPem });
  return plan(files, checked.fullchainPem, pair.keyPem, checked.facts, false);
}

export type CsrKeyType = 'ec' | 'rsa';

export interface CsrPlan {
  csrPem: string;
  subject: string;
  sans: string[];
  keyType: CsrKeyType;
  /** Keep the new key on the appliance, waiting for the signed certificate. */
  write(): void;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * A new key and a CSR for it: the key stays on the appliance (replacing an earlier waiting one), the CSR goes
 * to the deployer's CA. The common name is also the first SAN: browsers look only at SANs.
 */
export async function planWebCsr(files: WebTlsFiles, opts: { commonName: string; sans?: string[]; keyType?: CsrKeyType; organization?: string }): Promise<CsrPlan> {
  const name = (s: string, field: string) => (isIP(s) ? s : s.startsWith('*.') ? `*.${validateDnsName(s.slice(2), field)}` : validateDnsName(s, field));
  const cn = name(opts.commonName, 'common name');
  const sans = [...new Set([cn, ...(opts.sans ?? []).map((s) => name(s, 'SAN'))])];
  if (opts.organization !== undefined && /[,+="\\<>;\n]/.test(opts.organization)) throw new InputError('organization must not hold , + = " \\ < > ; or a line break', { field: 'organization' });
  const keyType = opts.keyType ?? 'ec';
  const x509 = await peculiar();
  const alg = keyType === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const subject = `CN=${cn}${opts.organization ? `, O=${opts.organization}` : ''}`;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(sans.map((value) => ({ type: isIP(value) ? ('ip' as const) : ('dns' as const), value }))),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (keyType === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : 0), true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    csrPem: csr.toString('pem') + '\n',
    subject,
    sans,
    keyType,
    write: () => replaceFileAtomically(pendingKeyFile(files), keyPem, files.keyFile),
  };
}
