// Service lifecycle as systemd wants it: READY=1 only once the store and token are open, STOPPING=1 on
// drain, RELOADING=1 around SIGHUP, STATUS= on each change, and WATCHDOG=1 from the main event loop while
// systemd asks for it (WatchdogSec). Without NOTIFY_SOCKET (make run, tests) these do nothing.
import { createRequire } from 'node:module';
import { loadConfig } from '../config/index.js';
import { setLogLevel, type Logger } from '../log/index.js';

interface SdNotify {
  sendState(state: string): void;
}

let sd: SdNotify | null | undefined;

function systemd(): SdNotify | null {
  if (sd !== undefined) return sd;
  if (!process.env.NOTIFY_SOCKET) return (sd = null);
  try {
    sd = createRequire(import.meta.url)('sd-notify') as SdNotify;
  } catch {
    sd = null;
  }
  return sd;
}

/** Status text and state, one datagram. The status is one line (systemd shows it in `systemctl status`). */
function send(state: string, status?: string): void {
  const s = systemd();
  if (!s) return;
  s.sendState(`${state}${status === undefined ? '' : `STATUS=${status.replace(/[\r\n]+/g, ' ')}\n`}`);
}

let watchdog: NodeJS.Timeout | undefined;
/** What the daemon said when it became ready, shown again once a reload is over. */
let readyStatus = 'serving';

/**
 * The interval systemd expects WATCHDOG=1 at, in ms, or null when it expects none: WATCHDOG_USEC set by the
 * unit's WatchdogSec, and WATCHDOG_PID (when set) naming this process, not a parent that passed it on.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/**
 * WATCHDOG=1 at half systemd's interval, from a timer on the main event loop: a loop stuck in a busy
 * handler, a deadlock of awaits on a stalled native call or a SIGSTOP sends none, and systemd kills and
 * restarts the daemon. Unref'd: the timer alone never keeps a draining daemon alive.
 */
function startWatchdog(): void {
  if (watchdog || !systemd()) return;
  const interval = watchdogIntervalMs();
  if (interval === null) return;
  watchdog = setInterval(() => send('WATCHDOG=1\n'), interval);
  watchdog.unref();
  send('WATCHDOG=1\n');
}

export function notifyReady(status: string): void {
  readyStatus = status;
  send(`READY=1\nMAINPID=${process.pid}\n`, status);
  startWatchdog();
}

/** A change of what the daemon is doing, for `systemctl status`. */
export function notifyStatus(status: string): void {
  send('', status);
}

export function notifyStopping(status = 'draining'): void {
  send('STOPPING=1\n', status);
}

export function notifyReloading(): void {
  send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\n`, 'reloading');
}

/**
 * Wire SIGTERM/SIGINT to `drain` (once; a second signal exits at once) and SIGHUP to `reload`.
 */
export function handleSignals(handlers: { drain: (signal: string) => Promise<void>; reload: () => Promise<void> }): void {
  let draining = false;
  const stop = (signal: NodeJS.Signals) => {
    if (draining) process.exit(1);
    draining = true;
    notifyStopping();
    handlers.drain(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    notifyReloading();
    handlers.reload().finally(() => send('READY=1\n', readyStatus));
  });
}

/**
 * Node flags the terminal proxy's process starts with, wherever it is started (its systemd unit, `make run`,
 * tests, benches); V8 reads them only at start-up (v8.setFlagsFromString later changes nothing, measured).
 * A bulk transfer allocates about three times its bytes in short-lived packet and socket buffers (ssh2 and
 * Node's, outside the JS heap). V8 weighs those against the limit that starts a full collection, which for
 * the proxy's ~16 MB heap is ~40 MB: the proxy ran a mark-compact every few MiB transferred, 60–80 per
 * 600 MiB (--trace-gc), half of its CPU per MiB (bench/terminal-proxy.ts). A 64 MB floor under that limit
 * leaves those buffers to the cheap young-generation collections: 4–6 full collections per 600 MiB. It is a
 * threshold, not a reservation: the heap grows only by what is garbage between collections.
 */
export const TERMINAL_PROXY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/**
 * A daemon's `--listen ADDRESS --port N` (the `make run` supervisor and the tests start proxies on loopback and
 * on a port of their choosing, whatever the config says); anything else is a usage error.
 */
export function listenOverrides(argv: string[]): { listen?: string; port?: number } {
  const out: { listen?: string; port?: number } = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--listen' && value) out.listen = value;
    else if (flag === '--port' && value && /^\d{1,5}$/.test(value) && Number(value) <= 65535) out.port = Number(value);
    else throw new Error(`usage: main.js [--listen ADDRESS] [--port N] (got ${flag})`);
  }
  return out;
}

/**
 * A proxy daemon's life once it serves (the SSH and RDP proxies alike): whatever escapes one connection's
 * handlers is logged, never fatal to the others; SIGTERM drains (the server's sessions, then the appliance);
 * SIGHUP re-reads the config's log level and drops cached settings, keeping the running config on a bad file.
 */
export function superviseProxy(o: { log: Logger; stop: () => Promise<void>; close: () => Promise<void>; invalidateSettings: () => void; restartOnly: string }): void {
  const { log } = o;
  process.on('uncaughtException', (e) => log.error('uncaught error in a connection', { error: e.message, stack: e.stack }));
  process.on('unhandledRejection', (e) => log.error('unhandled rejection in a connection', { error: (e as Error)?.message }));
  handleSignals({
    drain: async (signal) => {
      log.info('draining', { signal });
      await o.stop();
      await o.close();
      log.info('stopped');
    },
    reload: async () => {
      try {
        setLogLevel(loadConfig().log.level);
        o.invalidateSettings();
        log.info(`configuration reloaded (${o.restartOnly} take effect at the next restart)`);
      } catch (e) {
        log.error('reload failed; keeping the running configuration', { error: e });
      }
    },
  });
}
