// The appliance's own web TLS certificate: a self-signed ECDSA P-256 certificate made at `orbit init`
// (an operator replaces it with one from their CA through orbit later).
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { peculiar } from './certificates.js';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export async function createSelfSignedTlsCertificate(opts: { commonName: string; dnsNames: string[]; ipAddresses: string[]; days: number }): Promise<PemPair> {
  const x509 = await peculiar();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${opts.commonName.replace(/[,+="\\<>;]/g, '')}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + opts.days * 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...opts.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', pkcs8) };
}

/** Short facts about a PEM certificate for `orbit status`. */
export function describeCertificate(certPem: string): { subject: string; validTo: string; fingerprint256: string } {
  const c = new NodeX509(certPem);
  return { subject: c.subject, validTo: c.validTo, fingerprint256: c.fingerprint256 };
}
