// Sessions: a proxied session's life, the same for every protocol — admitted (or refused with a reason the
// user may see), then its secret, host key check and one end. Protocol code stays in the daemons.
export { SessionService, ProxySession, type Admission, type OpenRequest, type Refusal, type SessionEnd, type SessionProtocol, type SessionTarget } from './session-service.js';
export { RecordingService, SessionRecording, type RecordingDeps, type RecordingView, type RecordingVerdict } from './recording-service.js';
