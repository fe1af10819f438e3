import { X509Certificate } from 'node:crypto';

/** Lower-case hex SHA-256 of a certificate's DER: the pin cluster_nodes keeps for a node's web certificate. */
export function certificateFingerprint(pemOrDer: string | Buffer): string {
  return new X509Certificate(pemOrDer).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** The same form from Node's `fingerprint256` ("AB:CD:..."). */
export function normalizeFingerprint(fingerprint256: string): string {
  return fingerprint256.replace(/:/g, '').toLowerCase();
}
