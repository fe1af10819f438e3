// PKI: certificates the appliance makes for itself (web TLS). The trust store, chain/validity/e-mail checks
// and CRLs for certificate login arrive with the certificate-MFA issue.
export { createSelfSignedTlsCertificate, describeCertificate, type PemPair } from './tls-certificate.js';
