// A TLS server's certificate and key read from their files as a checked pair, for the daemons that serve
// TLS from files (the web daemon, the RDP proxy): both parse, the key is the certificate's, OpenSSL takes them.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { WardenError } from '../errors/index.js';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the leaf certificate. */
  fingerprint: string;
}

/** Read and check the pair: both parse, the key is the certificate's, OpenSSL takes them together. */
export function readTlsPair(files: { tlsCert: string; tlsKey: string }): TlsPair {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.tlsCert);
    key = readFileSync(files.tlsKey);
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `the web TLS certificate or key cannot be read: ${(e as Error).message}`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new WardenError('CONFIG_INVALID', `${files.tlsCert} is not a PEM certificate`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new WardenError('CONFIG_INVALID', `${files.tlsKey} is not a usable private key`);
  }
  if (!matches) throw new WardenError('CONFIG_INVALID', `the key in ${files.tlsKey} does not belong to the certificate in ${files.tlsCert}`);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `OpenSSL refuses the certificate and key: ${(e as Error).message}`);
  }
  return { cert, key, fingerprint: leaf.fingerprint256 };
}
