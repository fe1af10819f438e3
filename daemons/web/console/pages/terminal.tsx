// The HTML5 terminal: xterm.js in the page, a WebSocket to the web daemon, and behind it the same admission,
// recording and command rules as the terminal proxy (daemons/web/routes/terminal.ts says the protocol). The
// page asks for a reason when the group wants one, says in the user's language why a session is refused,
// fails or ends, and leaves the last screen readable after the end.
import { useEffect, useRef, useState } from 'preact/hooks';
import type * as Xterm from '@xterm/xterm';
import type * as XtermFit from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { formatDateTime, t, type MessageKey } from '../i18n.js';
import { followLink, useLocation } from '../router.js';
import type { Me } from '../types.js';

/** xterm.js and its fit add-on (~90 KB gzip) are a chunk of their own, fetched when a terminal is first opened. */
let library: Promise<[typeof Xterm, typeof XtermFit]> | undefined;
const loadXterm = () => (library ??= Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]));

/**
 * xterm.js sizes its rows and colours its theme with <style> elements it makes when it opens. The console's CSP
 * allows no inline style but the one nonce the server put in this page's shell: the elements made while the
 * terminal opens carry it. Nothing else gets it, and no style attribute is ever allowed.
 */
function withStyleNonce<T>(fn: () => T): T {
  const nonce = document.querySelector('meta[name="warden-style-nonce"]')?.getAttribute('content');
  if (!nonce) return fn();
  const original = Document.prototype.createElement;
  Document.prototype.createElement = function (this: Document, tag: string, options?: ElementCreationOptions) {
    const el = original.call(this, tag, options);
    if (tag.toLowerCase() === 'style') (el as HTMLStyleElement).nonce = nonce;
    return el;
  } as typeof Document.prototype.createElement;
  try {
    return fn();
  } finally {
    Document.prototype.createElement = original;
  }
}

type Phase = 'connecting' | 'reason' | 'open' | 'closed';

const REFUSALS: Record<string, MessageKey> = {
  denied: 'console.terminal.refused.denied',
  'needs-approval': 'console.terminal.refused.needsApproval',
  'certificate-required': 'console.terminal.refused.certificateRequired',
};
const FAILURES: Record<string, MessageKey> = {
  'host-key-mismatch': 'console.terminal.failed.hostKeyMismatch',
  'target-auth-failed': 'console.terminal.failed.targetAuthFailed',
  'target-unreachable': 'console.terminal.failed.targetUnreachable',
  'target-timeout': 'console.terminal.failed.targetTimeout',
  'not-recorded': 'console.terminal.failed.notRecorded',
  'channel-refused': 'console.terminal.failed.channelRefused',
};

/** What the user is told when the session ends, by the reason the server gave. */
function endedText(reason: string, exitStatus: number | null): string {
  if (reason === 'exited') return exitStatus === null ? t('console.terminal.ended') : t('console.terminal.endedExit', { status: exitStatus });
  if (reason.startsWith('ended:')) return t('console.terminal.endedByPolicy');
  if (reason === 'web-session-ended') return t('console.terminal.endedSignIn');
  if (reason === 'web-stopped') return t('console.terminal.endedStopped');
  return t('console.terminal.ended');
}

function idOf(v: string | null): number | null {
  return v !== null && /^[1-9][0-9]{0,9}$/.test(v) ? Number(v) : null;
}

export function TerminalPage({ me }: { me: Me }) {
  const { search } = useLocation();
  const deviceId = idOf(search.get('device'));
  const credentialId = idOf(search.get('credential'));
  const host = useRef<HTMLDivElement>(null);
  const disconnectButton = useRef<HTMLButtonElement>(null);
  const reasonInput = useRef<HTMLTextAreaElement>(null);
  const socket = useRef<WebSocket | null>(null);
  /** The user pressed Disconnect: the socket's close is theirs, not a lost connection. */
  const leaving = useRef(false);
  const size = useRef({ cols: 80, rows: 24 });
  const [phase, setPhase] = useState<Phase>('connecting');
  const [notice, setNotice] = useState<string>(t('console.terminal.connecting'));
  const [target, setTarget] = useState<{ device: string; account: string } | null>(null);
  const [attempt, setAttempt] = useState(0);
  const mayUse = me.permissions.includes('sessions.use');

  useEffect(() => {
    if (!mayUse || deviceId === null || credentialId === null) return;
    let live = true;
    let term: Xterm.Terminal | null = null;
    let resizeObserver: ResizeObserver | null = null;
    setPhase('connecting');
    setNotice(t('console.terminal.connecting'));
    leaving.current = false;
    void loadXterm().then(([{ Terminal }, { FitAddon }]) => {
      if (!live || !host.current) return;
      const terminal = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000, fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace' });
      term = terminal;
      const fit = new FitAddon();
      terminal.loadAddon(fit);
      withStyleNonce(() => terminal.open(host.current!));
      fit.fit();
      size.current = { cols: terminal.cols, rows: terminal.rows };
      // Shift+Esc leaves the terminal for the page (Tab belongs to the shell: completion).
      terminal.attachCustomKeyEventHandler((ev) => {
        if (ev.type === 'keydown' && ev.key === 'Escape' && ev.shiftKey) {
          disconnectButton.current?.focus();
          return false;
        }
        return true;
      });
      resizeObserver = new ResizeObserver(() => fit.fit());
      resizeObserver.observe(host.current);

      const ws = new WebSocket(`wss://${window.location.host}/api/v1/my/sessions/ssh/terminal`);
      ws.binaryType = 'arraybuffer';
      socket.current = ws;
      const encoder = new TextEncoder();
      let ended = false;
      ws.onopen = () => ws.send(JSON.stringify({ type: 'open', deviceId, credentialId, ...size.current }));
      ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
        if (!live) return;
        if (typeof ev.data !== 'string') return void terminal.write(new Uint8Array(ev.data));
        const m = JSON.parse(ev.data) as { type: string; [k: string]: unknown };
        if (m.type === 'opened') {
          setTarget({ device: String(m.device), account: String(m.account) });
          setPhase('open');
          setNotice(t('console.terminal.connected'));
          terminal.focus();
        } else if (m.type === 'refused' && m.refusal === 'reason-required') {
          setPhase('reason');
          setNotice(t('console.terminal.reasonHeading'));
          setTimeout(() => reasonInput.current?.focus(), 0);
        } else if (m.type === 'refused' || m.type === 'failed') {
          ended = true;
          const key = m.type === 'refused' ? REFUSALS[String(m.refusal)] : FAILURES[String(m.failure)];
          setPhase('closed');
          if (m.type === 'refused' && m.refusal === 'checked-out') {
            const holder = String(m.holder ?? '');
            setNotice(m.until ? t('console.terminal.refused.checkedOut', { holder, until: formatDateTime(String(m.until)) }) : t('console.terminal.refused.checkedOutSession', { holder }));
          } else setNotice(t(key ?? 'console.terminal.refused.denied'));
          ws.close();
        } else if (m.type === 'ended') {
          ended = true;
          terminal.options.disableStdin = true;
          setPhase('closed');
          setNotice(endedText(String(m.reason), typeof m.exitStatus === 'number' ? m.exitStatus : null));
        }
      };
      ws.onclose = () => {
        if (!live || ended) return;
        terminal.options.disableStdin = true;
        setPhase('closed');
        setNotice(t(leaving.current ? 'console.terminal.ended' : 'console.terminal.lost'));
      };
      terminal.onData((text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(text));
      });
      // Bytes xterm makes that are not text (some mouse reports): one byte per character.
      terminal.onBinary((bin) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(bin, (c) => c.charCodeAt(0) & 0xff));
      });
      terminal.onResize(({ cols, rows }) => {
        size.current = { cols, rows };
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
      });
    });
    return () => {
      live = false;
      resizeObserver?.disconnect();
      socket.current?.close();
      socket.current = null;
      term?.dispose();
    };
  }, [deviceId, credentialId, attempt, mayUse]);

  const sendReason = (reason: string) => {
    const ws = socket.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    setPhase('connecting');
    setNotice(t('console.terminal.connecting'));
    ws.send(JSON.stringify({ type: 'open', deviceId, credentialId, reason, ...size.current }));
  };

  const back = (
    <a href="/console/my-access" id="terminal-back" onClick={(ev) => followLink(ev, '/console/my-access')}>
      {t('console.terminal.back')}
    </a>
  );
  if (!mayUse || deviceId === null || credentialId === null) {
    return (
      <section>
        <div class="page-head">
          <h1 tabIndex={-1}>{t('console.terminal.heading')}</h1>
        </div>
        <p class="note" id="terminal-notice">
          {t(mayUse ? 'console.terminal.missing' : 'console.terminal.notAllowed')}
        </p>
        <p>{back}</p>
      </section>
    );
  }
  const label = target ? t('console.terminal.label', target) : t('console.terminal.heading');
  return (
    <section class="terminal-page">
      <div class="page-head">
        <h1 tabIndex={-1}>{target ? t('console.terminal.headingTarget', target) : t('console.terminal.heading')}</h1>
        <div class="actions">
          {phase === 'open' ? (
            <button type="button" id="terminal-disconnect" ref={disconnectButton} onClick={() => ((leaving.current = true), socket.current?.close())}>
              {t('console.terminal.disconnect')}
            </button>
          ) : null}
          {phase === 'closed' ? (
            <button type="button" id="terminal-reconnect" onClick={() => setAttempt((n) => n + 1)}>
              {t('console.terminal.reconnect')}
            </button>
          ) : null}
          {back}
        </div>
      </div>
      <p id="terminal-notice" role="status" data-phase={phase}>
        {notice}
      </p>
      {phase === 'open' ? (
        <p class="note" id="terminal-hint">
          {t('console.terminal.keyboardHint')}
        </p>
      ) : null}
      {phase === 'reason' ? (
        <form
          id="terminal-reason-form"
          aria-labelledby="terminal-reason-heading"
          onSubmit={(ev) => {
            ev.preventDefault();
            const reason = String(new FormData(ev.currentTarget).get('reason') ?? '').trim();
            if (reason) sendReason(reason);
          }}
        >
          <h2 id="terminal-reason-heading">{t('console.terminal.reasonHeading')}</h2>
          <label for="terminal-reason">{t('console.terminal.reason')}</label>
          <textarea name="reason" id="terminal-reason" ref={reasonInput} required minLength={3} maxLength={1024} rows={2} />
          <button type="submit" id="terminal-reason-submit">
            {t('console.terminal.reasonSubmit')}
          </button>
        </form>
      ) : null}
      <div class="terminal-host" id="terminal" ref={host} role="region" aria-label={label} />
    </section>
  );
}
