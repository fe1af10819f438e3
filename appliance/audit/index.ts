// The audit trail: every security decision as a row linked to the row before it by HMAC-SHA256 under a key
// on the token, with the chain head anchored outside the database. Owns appending and verifying.
export { AuditTrail, GENESIS_HASH, hashAuditRow, tokenChainKey, type AuditEvent, type AuditOutcome, type AuditTrailOptions, type ChainKey, type ChainVerdict, type AuditEventFilter, type AuditEventView } from './audit-trail.js';
export { AuditAnchor, type AnchorEntry, type AnchorReading } from './anchor.js';
