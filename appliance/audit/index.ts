// The audit trail: every security decision as a row chained by SHA-256 to the row before it, so an edit,
// a deletion or a reordering anywhere is found by walking the chain. Owns appending and verifying.
export { AuditTrail, GENESIS_HASH, hashAuditRow, type AuditEvent, type AuditOutcome, type ChainVerdict } from './audit-trail.js';
