// Service lifecycle as systemd wants it: READY=1 only once the store and token are open, STOPPING=1 on
// drain, RELOADING=1 around SIGHUP. Without NOTIFY_SOCKET (make run, tests) these do nothing.
import { createRequire } from 'node:module';

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

export function notifyReady(status: string): void {
  const s = systemd();
  if (!s) return;
  s.sendState(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}\n`);
}

export function notifyStopping(): void {
  systemd()?.sendState('STOPPING=1\n');
}

export function notifyReloading(): void {
  systemd()?.sendState(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\n`);
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
    handlers.reload().finally(() => systemd()?.sendState('READY=1\n'));
  });
}
