// The TLS certificate the RDP proxy shows its clients. Made self-signed on first start when neither file exists
// (like the SSH proxy's host key); a deployer replaces both with a certificate from their CA. One file without
// the other, or a pair that does not match, is a configuration error: the proxy does not start on half of it.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { createSelfSignedTlsCertificate, readTlsPair } from '../../appliance/pki/index.js';
import { publishPrivateFile } from '../../appliance/config/index.js';
import { WardenError } from '../../appliance/errors/index.js';

export interface TlsIdentity {
  cert: Buffer;
  key: Buffer;
  fingerprint256: string;
  created: boolean;
}

export async function loadOrCreateTlsIdentity(certFile: string, keyFile: string): Promise<TlsIdentity> {
  const haveCert = existsSync(certFile);
  const haveKey = existsSync(keyFile);
  let created = false;
  if (!haveCert && !haveKey) {
    const name = hostname();
    const pair = await createSelfSignedTlsCertificate({ commonName: name, dnsNames: [name, 'localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 825 });
    // The key first: a certificate on disk promises its key is there. Published atomically; a second process
    // starting at the same moment keeps the pair that landed first.
    const keyWon = publishPrivateFile(keyFile, pair.keyPem);
    if (keyWon) publishPrivateFile(certFile, pair.certPem);
    else waitFor(certFile, 5000);
    created = keyWon;
  } else if (!haveCert || !haveKey) {
    throw new WardenError('CONFIG_INVALID', `the RDP proxy needs both its TLS certificate and key (${haveCert ? keyFile : certFile} is missing)`);
  }
  try {
    const pair = readTlsPair({ tlsCert: certFile, tlsKey: keyFile });
    return { cert: pair.cert, key: pair.key, fingerprint256: pair.fingerprint, created };
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `the RDP proxy's TLS certificate or key is unusable: ${(e as Error).message}`);
  }
}

/** The rival that published the key publishes its certificate a moment later. */
function waitFor(file: string, ms: number): void {
  const until = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file) && Date.now() < until) Atomics.wait(pause, 0, 0, 20);
}
