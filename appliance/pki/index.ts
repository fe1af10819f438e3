// PKI: certificates the appliance makes for itself (web TLS), the trusted CA store with CRLs for
// certificate login, and the validation of a presented client certificate (chain, validity, CRL, EKU, e-mail).
export { createSelfSignedTlsCertificate, describeCertificate, type PemPair } from './tls-certificate.js';
export { TrustStore, caView, PKI_REVISION_META, type CaView, type CaCollision } from './trust-store.js';
export { validateClientCertificate, identityOf, type TrustSnapshot, type PresentedCertificate, type ValidationResult, type CertificateIdentity } from './certificate-validator.js';
export { CertificateError, parseCertificates, parseCertificate, parseCrl, certificateEmail, dn, normalizeSerial, MAX_CERTIFICATE_BYTES, MAX_BUNDLE_BYTES } from './certificates.js';
export { certificateFacts, currentWebCertificate, checkWebCertificate, planWebCertificateInstall, planSelfSignedWebCertificate, planWebCsr, pendingKeyFile, type WebTlsFiles, type CertificateFacts, type WebCertificatePlan, type CsrPlan, type CsrKeyType } from './web-certificate.js';
export { readTlsPair, type TlsPair } from './tls-pair.js';
