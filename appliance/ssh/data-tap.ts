// The one place the bytes of a proxied channel pass through besides the bridge itself: a recording writer and
// a command guard plug in here (appliance/recording, appliance/commands; see recording-taps.ts). The bridge
// calls the tap for every chunk, each resize and the end; the tap may send bytes of its own either way and
// hold both directions while its recording catches up.
import type { ProxySession } from '../sessions/index.js';

export interface ChannelInfo {
  kind: 'shell' | 'exec' | 'subsystem';
  /** The exec command or the subsystem name. */
  command?: string;
  /** The PTY, when the client asked for one. */
  term?: string;
  cols?: number;
  rows?: number;
}

/** What the bridge lends a tap: its own way to each side, and a brake on both. */
export interface ChannelIO {
  /** Bytes for the target the tap decided on later (a held Enter released, a line cancelled). */
  toTarget(data: Buffer): void;
  /** Bytes for the user (why a line was blocked). */
  toClient(data: Buffer): void;
  /** Stop reading both sides until `resume` (the recording has fallen behind the disk). */
  pause(): void;
  resume(): void;
}

export type ExitInfo = { code: number } | { signal: string } | null;

export interface ChannelTap {
  /** Client → target. What to forward (a guard may hold or cancel a line); null forwards nothing. */
  fromClient(data: Buffer): Buffer | null;
  /** Target → client, before it is forwarded: false drops it (nothing passes that cannot be recorded). */
  fromTarget(data: Buffer, stream: 'stdout' | 'stderr'): boolean;
  resize(cols: number, rows: number): void;
  /** The client sent EOF: resolves once the tap holds nothing more for the target (a held Enter went out). */
  clientEnd(): Promise<void>;
  /** The channel ended (with the target's exit, if it gave one). */
  end(exit: ExitInfo): void;
}

export type ExecJudgement = { allowed: true } | { allowed: false; message: string; exitStatus: number };

export interface TapFactory {
  /** An exec command judged whole before its channel opens upstream: refused with a message the user sees. */
  judgeExec(session: ProxySession, command: string): Promise<ExecJudgement>;
  /** Ready before the channel opens upstream: a session whose recording cannot start gets no channel. */
  open(session: ProxySession, channel: ChannelInfo, io: ChannelIO): Promise<ChannelTap>;
  /**
   * A forwarded TCP channel (direct-tcpip) is about to open: noted in the session's record (its bytes are not
   * recorded, only that it was opened and where to). Rejects when it cannot be noted: the forward is refused.
   * Absent: nothing is noted.
   */
  forward?(session: ProxySession, f: { destination: string; origin: string }): Promise<void>;
  /**
   * The target opened a channel to the user's forwarded agent: noted in the session's record (what passes
   * between the target and the agent is not recorded). Rejects when it cannot be noted: the channel is refused.
   */
  agent?(session: ProxySession): Promise<void>;
  /** The session ended: whatever it kept per session (its recording) closes, once. */
  close(session: ProxySession): Promise<void>;
}
