// The one place the bytes of a proxied channel pass through besides the bridge itself: a recording writer and
// a command guard plug in here (appliance/recording, appliance/commands). The default passes everything on
// and keeps nothing; the bridge calls the tap for every chunk, each resize and the end.
import type { ProxySession } from '../../appliance/sessions/index.js';

export interface ChannelInfo {
  kind: 'shell' | 'exec' | 'subsystem';
  /** The exec command or the subsystem name. */
  command?: string;
  term?: string;
  cols?: number;
  rows?: number;
}

export interface ChannelTap {
  /** Client → target. What to forward (a guard may drop or rewrite a line); null forwards nothing. */
  fromClient(data: Buffer): Buffer | null;
  /** Target → client, after it was forwarded. */
  fromTarget(data: Buffer, stream: 'stdout' | 'stderr'): void;
  resize(cols: number, rows: number): void;
  /** The channel ended; a writer flushes and closes. */
  end(): void;
}

export interface TapFactory {
  /** An exec command judged whole before its channel opens upstream: refused with a message the user sees. */
  judgeExec(session: ProxySession, command: string): Promise<{ allowed: true } | { allowed: false; message: string }>;
  open(session: ProxySession, channel: ChannelInfo): ChannelTap;
}

const PASS_THROUGH: ChannelTap = { fromClient: (d) => d, fromTarget: () => {}, resize: () => {}, end: () => {} };

/** No recording and no command rules yet: every byte passes as it came. */
export const passThroughTaps: TapFactory = {
  judgeExec: async () => ({ allowed: true }),
  open: () => PASS_THROUGH,
};
