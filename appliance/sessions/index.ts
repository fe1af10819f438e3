// Sessions: a proxied session's life, the same for every protocol — admitted (or refused with a reason the
// user may see), then its secret, host key check and one end. Protocol code stays in the daemons.
export { SessionService, ProxySession, DEFAULT_HOST_LEASE_MS, DEFAULT_PROGRESS_MS, PROGRESS_BATCH, PROCESS_GONE, type LiveSessionView, type LivenessOptions, type Admission, type OpenRequest, type Refusal, type SessionEnd, type SessionProtocol, type SessionTarget, type SessionCommandRules, MAX_COMMAND_CHARS, MAX_OUTPUT_CHUNK } from './session-service.js';
export { SessionActivityRecorder, type ActivityRecorderOptions, type CommandActivity, type CommandStatusActivity, type OutputActivity } from './activity-recorder.js';
export { SessionSearch, validateSearch, parseSince, SEARCH_MAX_LIMIT, type SessionSearchResult } from './session-search.js';
export { RecordingService, SessionRecording, type RecordingDeps, type RemoteRecordingSource, type RecordingView, type RecordingVerdict, type RecordingCommand, parseRecordingCursor } from './recording-service.js';
export { parseLoginName, MAX_LOGIN_NAME, type LoginName } from './login-name.js';
export { resolveTarget, protocolTargets, targetState, STATE_TEXT, LIST_LIMIT, type Resolution } from './targets.js';
export { RdpTicketService, rdpTicketHash, RDP_TICKET_TTL_MS, RDP_TICKET_RETENTION_MS, MAX_OUTSTANDING_RDP_TICKETS, type RdpTicketActor, type RdpTicketRequest, type IssuedRdpTicket, type RedeemedRdpTicket, type RdpTicketRedemption, type RdpTicketRefusal, type RdpTicketMethod, type RdpTicketDeps } from './rdp-tickets.js';
export { Dashboard, DASHBOARD_LIST, DASHBOARD_RECENT_MS, DASHBOARD_EXPIRY_MS, FAILED_LOGIN_TYPES, BLOCKED_COMMAND_TYPE, type DashboardView } from './dashboard.js';
