// The decision "is this client certificate acceptable for this account, now?" — every rule of certificate
// login in one pure function over a snapshot of the trust store, answering a reason code on failure.
import type { X509Certificate } from 'node:crypto';
import type { ErrorCode } from '../errors/index.js';
import type { TrustedCaRow } from '../store/index.js';
import {
  CertificateError,
  OID_ANY_EKU,
  OID_CLIENT_AUTH,
  certificateEmail,
  dn,
  extendedKeyUsage,
  issuedBy,
  namedIssuer,
  normalizeSerial,
  notAfter,
  notBefore,
  parseCertificate,
} from './certificates.js';

/** What the validator needs, read once per decision: CAs with parsed certificates and revoked serials. */
export interface TrustSnapshot {
  cas: { row: TrustedCaRow; cert: X509Certificate }[];
  revoked: Map<number, Set<string>>;
}

/** What the TLS handshake gave us: the client's certificate (DER) and any intermediates it sent. */
export interface PresentedCertificate {
  leaf: Buffer | undefined;
  chain: Buffer[];
}

/** Identity of a bound certificate: fingerprint, and issuer + serial. */
export interface CertificateIdentity {
  fingerprint: string;
  issuer: string;
  serial: string;
}

export interface ValidationOptions {
  now: number;
  checkEmail: boolean;
  accountEmail: string;
  bound: CertificateIdentity | undefined;
}

export type ValidationResult =
  | {
      ok: true;
      cert: X509Certificate;
      identity: CertificateIdentity;
      subject: string;
      email: string;
      anchorId: number;
      /** The intermediates the client sent that the chain went through (leaf side first; none when the store had them). */
      intermediates: X509Certificate[];
    }
  | { ok: false; code: ErrorCode; reason: string; cert?: X509Certificate };

const MAX_DEPTH = 8;

function fail(code: ErrorCode, reason: string, cert?: X509Certificate): ValidationResult {
  return cert ? { ok: false, code, reason, cert } : { ok: false, code, reason };
}

export function identityOf(cert: X509Certificate): CertificateIdentity {
  return { fingerprint: cert.fingerprint256, issuer: dn(cert.issuer), serial: normalizeSerial(cert.serialNumber) };
}

export interface AuthorityRefusal {
  code: ErrorCode;
  reason: string;
}

/**
 * Is this store CA a trust anchor at `now`, i.e. would a certificate it issued be accepted as far as the
 * store's CAs go? It and every store CA above it must be active and within validity, and none may be
 * revoked by its issuer's CRL: inactivating a root stops all below it. The one rule for both the login
 * decision and the CA names the TLS server advertises.
 */
export function authorityRefusal(trust: TrustSnapshot, ca: TrustSnapshot['cas'][number], now: number): AuthorityRefusal | undefined {
  const byId = new Map(trust.cas.map((c) => [c.row.id, c]));
  const seen = new Set<number>();
  for (let c: TrustSnapshot['cas'][number] | undefined = ca; c && !seen.has(c.row.id); c = c.row.parent_id === null ? undefined : byId.get(c.row.parent_id)) {
    seen.add(c.row.id);
    if (!c.row.active) return { code: 'CERT_CA_INACTIVE', reason: `CA ${c.row.subject} is inactive` };
    if (now < Number(c.row.not_before) || now > Number(c.row.not_after)) return { code: 'CERT_CA_EXPIRED', reason: `CA ${c.row.subject} is outside its validity` };
    const parent = c.row.parent_id === null ? undefined : byId.get(c.row.parent_id);
    if (parent && trust.revoked.get(parent.row.id)?.has(normalizeSerial(c.cert.serialNumber))) {
      return { code: 'CERT_REVOKED', reason: `CA ${c.row.subject} is revoked by its issuer's CRL` };
    }
  }
  return undefined;
}

export function validateClientCertificate(presented: PresentedCertificate, trust: TrustSnapshot, opts: ValidationOptions): ValidationResult {
  if (!presented.leaf || presented.leaf.length === 0) return fail('CERT_MISSING', 'no client certificate was presented');
  let leaf: X509Certificate;
  try {
    leaf = parseCertificate(presented.leaf);
  } catch (e) {
    return fail('CERT_MALFORMED', e instanceof CertificateError ? e.message : 'unreadable certificate');
  }
  if (leaf.ca) return fail('CERT_NOT_END_ENTITY', 'a CA certificate cannot log in', leaf);
  if (opts.now < notBefore(leaf)) return fail('CERT_NOT_YET_VALID', `valid only from ${leaf.validFrom}`, leaf);
  if (opts.now > notAfter(leaf)) return fail('CERT_EXPIRED', `expired ${leaf.validTo}`, leaf);
  const eku = extendedKeyUsage(leaf);
  if (eku && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) return fail('CERT_EKU', `extended key usage ${eku.join(',')} lacks clientAuth`, leaf);

  // Intermediates the client sent: only CA certificates, unreadable ones ignored (they cannot help a chain).
  const sent: X509Certificate[] = [];
  for (const der of presented.chain.slice(0, MAX_DEPTH)) {
    try {
      const c = parseCertificate(der);
      if (c.ca && c.fingerprint256 !== leaf.fingerprint256) sent.push(c);
    } catch {
      /* skipped */
    }
  }

  // Walk up from the leaf until a certificate in the store issued the current one.
  let current = leaf;
  const viaClient: X509Certificate[] = [];
  let anchor: TrustSnapshot['cas'][number] | undefined;
  for (let depth = 0; depth < MAX_DEPTH && !anchor; depth++) {
    anchor = trust.cas.find((c) => issuedBy(current, c.cert));
    if (anchor) break;
    const next = sent.find((c) => issuedBy(current, c) && !viaClient.includes(c));
    if (!next) {
      if (trust.cas.some((c) => namedIssuer(current, c.cert)) || sent.some((c) => namedIssuer(current, c))) {
        return fail('CERT_SIGNATURE_INVALID', `the signature of ${dn(current.subject)} does not verify with the CA named ${dn(current.issuer)}`, leaf);
      }
      return fail('CERT_UNTRUSTED', `no trusted CA issued ${dn(current.subject)} (issuer ${dn(current.issuer)})`, leaf);
    }
    if (opts.now < notBefore(next) || opts.now > notAfter(next)) return fail('CERT_CA_EXPIRED', `intermediate ${dn(next.subject)} is outside its validity`, leaf);
    viaClient.push(next);
    current = next;
  }
  if (!anchor) return fail('CERT_UNTRUSTED', 'the chain is too long', leaf);
  const refusal = authorityRefusal(trust, anchor, opts.now);
  if (refusal) return fail(refusal.code, refusal.reason, leaf);

  // Revocation of the leaf (and of intermediates the client sent) by the store CA that issued them.
  const issuedByAnchor = viaClient.length > 0 ? viaClient[viaClient.length - 1]! : leaf;
  if (trust.revoked.get(anchor.row.id)?.has(normalizeSerial(issuedByAnchor.serialNumber))) {
    return fail('CERT_REVOKED', `${dn(issuedByAnchor.subject)} is on the CRL of ${anchor.row.subject}`, leaf);
  }

  const email = certificateEmail(leaf);
  if (opts.checkEmail) {
    if (!email || !opts.accountEmail || email.toLowerCase() !== opts.accountEmail.toLowerCase()) {
      return fail('CERT_EMAIL_MISMATCH', `certificate e-mail "${email}" does not match the account's`, leaf);
    }
  }

  const identity = identityOf(leaf);
  if (opts.bound) {
    const b = opts.bound;
    if (b.fingerprint !== identity.fingerprint || b.issuer !== identity.issuer || normalizeSerial(b.serial) !== identity.serial) {
      return fail('CERT_NOT_BOUND_CERT', 'this is not the certificate bound to the account', leaf);
    }
  }
  return { ok: true, cert: leaf, identity, subject: dn(leaf.subject), email, anchorId: anchor.row.id, intermediates: viaClient };
}
