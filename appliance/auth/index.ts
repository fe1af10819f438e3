// Authentication: local passwords (Argon2id; scrypt hashes upgraded at login), complexity and history, lockout,
// the IP denylist, server-side web sessions (single active session, idle timeout, lifetime, IP binding) and the
// second factors: X.509 certificate (with binding and usage log), TOTP and Duo Universal Prompt; on the SSH proxy,
// the same rules through ProxyLogin, with registered SSH keys and the smart-card certificate's key.
export {
  AuthService,
  requiredSecondFactor,
  TOUCH_EVERY_MS,
  type AuthenticatedPerson,
  type AuthenticationRequest,
  type FactorEvent,
  type FactorRequest,
  type FactorVerdict,
  type LoginProtocol,
  type LoginRequest,
  type LoginSuccess,
  type PersonFactor,
  type SessionContext,
} from './auth-service.js';
export { hashPassword, verifyPassword, needsRehash, hashScheme, DecoyHash } from './password-hash.js';
export { checkComplexity, isInHistory, generateOneTimePassword, characterClasses, MAX_PASSWORD_LENGTH } from './password-rules.js';
export { IpDenylist, parseCidr, normalizeIp, assertDenylistSafe } from '../net/index.js';
export { sessionIdOf, webLoginProof } from './web-sessions.js';
export { CertificateLogin, type CertificateBindingView, type CertificateUsageEntry, type ProxyAuthenticationProof } from './certificate-login.js';
export { ProxyLoginService, ProxyLogin, MAX_STEPS_PER_CONNECTION, type ProxyLoginRequest, type ProxyAuthentication, type ProxyAuthMethod, type ProxyDue, type ProxyFactor, type ProxyStep, type OfferedKey } from './proxy-login.js';
export { SshKeyService, MAX_SSH_KEYS_PER_USER, type SshKeyView, type SshKeyActor } from './ssh-keys.js';
export { parseAuthorizedKeyLine, parseSshPublicKey, verifySshSignature, type SshSignature, sshFingerprint, sshBlobOfKey, sshBlobOfCertificate, authorizedKeyLine, MIN_RSA_BITS, type SshPublicKey, type AuthorizedKey } from './ssh-public-key.js';
export { TotpService, type TotpEnrolment } from './totp.js';
export { DuoService, DUO_HEALTH_CHECK_FAILED, type DuoProviderView, type DuoSaveResult } from './duo.js';
export { SecondFactorService } from './second-factor.js';
