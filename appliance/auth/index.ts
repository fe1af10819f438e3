// Authentication: local passwords (scrypt), complexity and history, lockout, the IP denylist, and
// server-side web sessions (single active session, idle timeout, lifetime, IP binding).
export { AuthService, type LoginRequest, type LoginSuccess, type SessionContext } from './auth-service.js';
export { hashPassword, verifyPassword, needsRehash } from './password-hash.js';
export { checkComplexity, isInHistory, generateOneTimePassword, characterClasses, MAX_PASSWORD_LENGTH } from './password-policy.js';
export { IpDenylist, parseCidr, normalizeIp } from './ip-denylist.js';
export { sessionIdOf } from './web-sessions.js';
