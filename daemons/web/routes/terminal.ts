// The console's HTML5 terminal: a WebSocket that carries one SSH session. What decides and records is the
// core's (appliance/ssh/terminal.ts: SessionService.open, the vaulted credential, the pinned host key, the
// recording, the command rules), the same path the terminal proxy's channels take; this file is the last metre.
//
// GET /api/v1/my/sessions/ssh/terminal, upgraded to a WebSocket, with the session cookie (the request hook
// authenticates it as for any call) and our own Origin (a page elsewhere must not open a terminal with the
// user's cookie: the browser sends Origin on every WebSocket, and it is required here). Then, in text frames of
// JSON, the browser says
//   {"type":"open","deviceId":N,"credentialId":N,"cols":N,"rows":N,"reason":"…"?}   (again after a refusal)
//   {"type":"resize","cols":N,"rows":N}
// and sends what the user types as binary frames. The daemon answers
//   {"type":"opened","sessionId":"…","device":"host name","account":"user name"} | {"type":"refused","refusal":"denied|needs-approval|reason-required|certificate-required"}
//   {"type":"failed","failure":"host-key-mismatch|target-auth-failed|target-unreachable|target-timeout|not-recorded|channel-refused"}
//   {"type":"ended","reason":"…","exitStatus":N|null}
// and the target's output as binary frames. One terminal per WebSocket.
//
// The web session stays the terminal's login: every web.terminalCheckSeconds it is checked — touched (kept
// from going idle) when the user typed since, read without touching when not. A session that ended — signed
// out, idle, replaced by a login elsewhere, the user disabled — ends the terminal ('web-session-ended').
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket, RawData } from 'ws';
import type { Appliance } from '../../../appliance/index.js';
import { webLoginProof } from '../../../appliance/auth/index.js';
import { openTerminal, RecordingTaps, type Terminal, type TerminalDeps } from '../../../appliance/ssh/index.js';
import { logger } from '../../../appliance/log/index.js';
import { SESSION_COOKIE } from '../route-context.js';

const log = logger('web');

/** Output queued for a slow browser before the target is held (resumed under LOW_WATER). */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Opening attempts on one WebSocket (a refusal for a reason, then the reason): a loop gets nothing more. */
const MAX_OPENS = 3;
/** Largest frame the browser may send (a paste): ws refuses bigger ones and closes the connection. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** The terminals this daemon holds open: ended, with their sessions, before the daemon's sockets close. */
export class OpenTerminals {
  readonly all = new Set<Terminal>();
  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.all].map((t) => t.close(reason)));
  }
}

export interface TerminalRouteOptions {
  appliance: Appliance;
  terminals: OpenTerminals;
  /** How long the target may take to accept the injected credential. */
  upstreamTimeoutMs?: number;
}

interface OpenMessage {
  type: 'open';
  deviceId: number;
  credentialId: number;
  cols: number;
  rows: number;
  reason?: string;
}

function isId(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 9_999_999_999;
}
function isSize(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 10_000;
}

function parseControl(text: string): OpenMessage | { type: 'resize'; cols: number; rows: number } | null {
  let m: Record<string, unknown>;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    m = v as Record<string, unknown>;
  } catch {
    return null;
  }
  if (m.type === 'resize' && isSize(m.cols) && isSize(m.rows)) return { type: 'resize', cols: m.cols, rows: m.rows };
  if (m.type === 'open' && isId(m.deviceId) && isId(m.credentialId) && isSize(m.cols) && isSize(m.rows)) {
    if (m.reason !== undefined && (typeof m.reason !== 'string' || m.reason.length > 1024)) return null;
    return { type: 'open', deviceId: m.deviceId, credentialId: m.credentialId, cols: m.cols, rows: m.rows, ...(typeof m.reason === 'string' && m.reason.trim() ? { reason: m.reason.trim() } : {}) };
  }
  return null;
}

export const terminalRoutes: FastifyPluginAsync<TerminalRouteOptions> = async (app, { appliance, terminals, upstreamTimeoutMs = 15_000 }) => {
  const deps: TerminalDeps = { appliance, taps: new RecordingTaps(appliance), upstreamTimeoutMs };
  const open = terminals.all;

  app.get('/api/v1/my/sessions/ssh/terminal', { websocket: true, config: { permission: 'sessions.use' } }, (socket: WebSocket, request: FastifyRequest) => {
    const origin = request.headers.origin;
    const host = request.headers.host;
    if (!host || origin !== `https://${host}`) {
      log.warn('a terminal WebSocket from another origin was refused', { origin: String(origin).slice(0, 200), ip: request.clientIp });
      return socket.close(1008, 'origin');
    }
    const web = request.session!;
    const token = request.cookies[SESSION_COOKIE]!;
    const ip = request.clientIp;
    let terminal: Terminal | null = null;
    let opening = false;
    let opens = 0;
    let typed = false;
    let queued = 0;
    let closed = false;

    const send = (message: Record<string, unknown>) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    };
    const finish = (code: number, why: string) => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, why);
    };

    // The web session is the terminal's login: when it ends, so does the terminal.
    const keepalive = setInterval(() => {
      const touch = typed;
      typed = false;
      appliance.auth.authenticate(token, ip, { touch }).catch(() => {
        if (terminal) void terminal.close('web-session-ended');
        else finish(1008, 'session');
      });
    }, appliance.config.web.terminalCheckSeconds * 1000);
    keepalive.unref();

    const start = async (m: OpenMessage) => {
      opening = true;
      try {
        const opened = await openTerminal(
          deps,
          { userId: web.user.id, deviceId: m.deviceId, credentialId: m.credentialId, source: ip, authentication: webLoginProof(web.session), cols: m.cols, rows: m.rows, ...(m.reason ? { reason: m.reason } : {}) },
          {
            output: (d) => {
              if (socket.readyState !== socket.OPEN) return;
              queued += d.length;
              if (queued > HIGH_WATER) terminal?.clientFull(true);
              socket.send(d, { binary: true }, () => {
                queued -= d.length;
                if (queued < LOW_WATER) terminal?.clientFull(false);
              });
            },
            holdInput: (held) => (held ? socket.pause() : socket.resume()),
            ended: (end) => {
              if (terminal) open.delete(terminal);
              send({ type: 'ended', reason: end.reason, exitStatus: end.exit && 'code' in end.exit ? end.exit.code : null });
              finish(1000, 'ended');
            },
          },
        );
        if (!opened.opened) {
          if ('refusal' in opened) send({ type: 'refused', refusal: opened.refusal.kind, ...(opened.refusal.kind === 'checked-out' ? { holder: opened.refusal.holder, until: opened.refusal.until === null ? null : new Date(opened.refusal.until).toISOString() } : {}) });
          else send({ type: 'failed', failure: opened.failure });
          return;
        }
        terminal = opened.terminal;
        if (closed) return void terminal.close('client-disconnected');
        open.add(terminal);
        send({ type: 'opened', sessionId: terminal.id, device: terminal.session.target.hostname, account: terminal.session.target.username });
      } catch (e) {
        log.warn('the terminal could not be opened', { error: (e as Error).message });
        send({ type: 'failed', failure: 'channel-refused' });
      } finally {
        opening = false;
      }
    };

    socket.on('message', (data: RawData, binary: boolean) => {
      if (binary) {
        if (!terminal) return;
        typed = true;
        terminal.input(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer));
        return;
      }
      const m = parseControl(data.toString());
      if (!m) return finish(1003, 'not understood');
      if (m.type === 'resize') return terminal?.resize(m.cols, m.rows);
      if (terminal || opening) return;
      if (++opens > MAX_OPENS) return finish(1008, 'too many attempts');
      void start(m);
    });
    socket.on('close', () => {
      closed = true;
      clearInterval(keepalive);
      if (terminal) void terminal.close('client-disconnected');
    });
    socket.on('error', (e) => log.debug('terminal WebSocket error', { error: e.message }));
  });
};
