// Process logging (winston, JSON lines to stdout for journald). Owns redaction: whatever a caller passes,
// fields whose names look secret are replaced before a line is written.
import winston from 'winston';

const SECRET_KEY = /pass(word)?|secret|pin|token|cookie|authorization|private|otp|share|key$/i;
const REDACTED = '[redacted]';

/** Deep-copy `value` with secret-looking fields replaced. Exported for tests and for the audit detail. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (Buffer.isBuffer(value)) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, depth + 1);
    return out;
  }
  return value;
}

const redactFormat = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message' || k === 'timestamp') continue;
    info[k] = SECRET_KEY.test(k) ? REDACTED : redact(info[k]);
  }
  return info;
});

export type Logger = winston.Logger;

let root: winston.Logger | undefined;

export function createLogger(level: string = process.env.WARDEN_LOG_LEVEL ?? 'info'): winston.Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** The process-wide logger; `component` tags every line. */
export function logger(component: string): winston.Logger {
  root ??= createLogger();
  return root.child({ component });
}

export function setLogLevel(level: string): void {
  root ??= createLogger(level);
  root.level = level;
}
