// A TLS server certificate as a pin: the same form the RDP proxy pins its targets' certificates in (Node's
// fingerprint256, "AB:CD:…"), so a device's pinned keys read alike whatever protocol they are for.
import { X509Certificate } from 'node:crypto';

export function tlsCertificateFingerprint(der: Buffer): string {
  return new X509Certificate(der).fingerprint256;
}
