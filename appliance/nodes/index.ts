// Cluster nodes as peers of one another: the cluster secret and the signed internal call between nodes'
// web daemons (certificate pinned), and recordings read on one node but held by another.
export { ClusterSecret, CLUSTER_SECRET_META } from './cluster-secret.js';
export { signInternalCall, verifyInternalCall, claimedNode, INTERNAL_HEADERS, INTERNAL_CLOCK_SKEW_MS, type InternalCall } from './internal-auth.js';
export { pinnedGet, type PinnedGetOptions } from './peer-client.js';
export { certificateFingerprint, normalizeFingerprint } from './fingerprint.js';
export { RemoteRecordings, internalRecordingPath, REMOTE_CACHE_DIR, type RemoteRecordingsDeps, type RecordingLocation, type InternalRecordingRequest, type ServedRecording } from './remote-recordings.js';
export { nodeRegistration } from './registration.js';
