// The shapes the Sessions page reads from the API (live sessions, recordings, search hits, a recording's
// commands), as JSON.

export interface LiveSession {
  id: string;
  user: string;
  device: string;
  credential: string;
  source: string;
  protocol: string;
  startedAt: string;
  bytesIn: number;
  bytesOut: number;
  recordingId: string | null;
  emergency: boolean;
  responsive: boolean;
}

export interface Recording {
  id: string;
  sessionId: string;
  protocol: string;
  status: 'recording' | 'complete' | 'failed';
  startedAt: string;
  endedAt: string | null;
  bytes: number;
  user: string;
  device: string;
  credential: string;
  source: string;
}

export interface SearchHit {
  sessionId: string;
  user: string;
  device: string;
  time: string;
  command: string | null;
  text: string | null;
  action: 'allow' | 'alert' | 'block' | null;
  recordingId: string | null;
  offsetSeconds: number;
}

export interface RecordingCommand {
  at: string;
  offsetSeconds: number;
  command: string;
  action: 'allow' | 'alert' | 'block';
  exitStatus: number | null;
}
