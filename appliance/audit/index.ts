// The audit trail: every security decision as a row linked to the row before it by HMAC-SHA256 under a key
// on the token, with the chain head anchored outside the database. Owns appending, verifying and the
// catalogue of event types (code, severity, detail fields) that every row is declared in.
export { AuditTrail, csvField, GENESIS_HASH, hashAuditRow, tokenChainKey, type AuditDetailMember, type AuditEvent, type AuditEventWithout, type AuditOutcome, type AuditTrailOptions, type ChainKey, type ChainVerdict, type AuditEventFilter, type AuditEventView } from './audit-trail.js';
export { AuditAnchor, type AnchorEntry, type AnchorReading } from './anchor.js';
export { auditEventType, auditEventTypes, classifyAuditRow, detailProblems, isAuditEventType, SEVERITIES, type AuditDetail, type AuditEventType, type EventTypeInfo, type EventTypeSpec, type FieldKind, type Severity } from './event-types.js';
