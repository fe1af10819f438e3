// What a proxy hands over about a live session — commands and output — batched off its data path: output
// bytes become text (escape sequences removed) in chunks, commands queue, and a timer writes both in one
// transaction now and then. A blocked command is written at once: its high-severity event must not wait.
import { TerminalText } from '../commands/index.js';

/** A command the proxy saw entered (interactive, reconstructed) or requested (exec), and what the rules did. */
export interface CommandActivity {
  at: number;
  command: string;
  action: 'allow' | 'alert' | 'block';
  rule: { position: number; pattern: string } | null;
  exitStatus?: number | null;
  /** An exec request rather than an interactive line. */
  exec?: boolean;
  /** Offset into the recording; default: from the recording's start (the session's if none). */
  offsetMs?: number;
}

/**
 * An exit status learnt after its command was stored (the shell reports it when the command ends): the
 * command is found again by its time and text.
 */
export interface CommandStatusActivity {
  at: number;
  command: string;
  exitStatus: number;
}

/** A chunk of the session's output as text (see TerminalText), for the full-text index. */
export interface OutputActivity {
  at: number;
  text: string;
  offsetMs?: number;
}

export interface ActivityRecorderOptions {
  /** Write what is pending this often (ms). */
  flushMs?: number;
  /** Cut the output text into a chunk once this many characters wait. */
  chunkChars?: number;
  /** Pending commands beyond this are written at once. */
  maxCommands?: number;
  /** A write failed (the store is down): the caller decides (log, end the session). */
  onError?: (e: unknown) => void;
  clock?: () => number;
}

type Write = (sessionId: string, activity: { commands: CommandActivity[]; output: OutputActivity[]; statuses: CommandStatusActivity[] }) => Promise<void>;

export class SessionActivityRecorder {
  private commands: CommandActivity[] = [];
  private output: OutputActivity[] = [];
  private statuses: CommandStatusActivity[] = [];
  /** Commands handed to a write: from then on a status for one is an update, never a change to the object. */
  private readonly taken = new WeakSet<CommandActivity>();
  private readonly text = new TerminalText();
  /** When the text now waiting began to be printed. */
  private textAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly sessionId: string,
    private readonly write: Write,
    private readonly options: ActivityRecorderOptions = {},
  ) {
    this.now = options.clock ?? Date.now;
  }

  /** A command entered or requested; a blocked one is written at once (the promise says when it is stored). */
  command(c: CommandActivity): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.commands.push(c);
    if (c.action === 'block' || this.commands.length >= (this.options.maxCommands ?? 200)) return this.flush();
    this.schedule();
    return Promise.resolve();
  }

  /**
   * The exit status of a command given to `command` before: it goes with the command if that still waits,
   * else as an update of the stored row in the next write.
   */
  exitStatus(c: CommandActivity, status: number): void {
    if (this.closed) return;
    if (!this.taken.has(c)) {
      c.exitStatus = status;
      return;
    }
    this.statuses.push({ at: c.at, command: c.command, exitStatus: status });
    if (this.statuses.length >= (this.options.maxCommands ?? 200)) void this.flush();
    else this.schedule();
  }

  /** Bytes the target printed. */
  outputBytes(buf: Buffer): void {
    if (this.closed) return;
    if (this.text.length === 0) this.textAt = this.now();
    this.text.write(buf);
    if (this.text.length >= (this.options.chunkChars ?? 16 * 1024)) this.cut();
    this.schedule();
  }

  private cut(): void {
    const t = this.text.take();
    if (t.trim() !== '') this.output.push({ at: this.textAt, text: t });
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.options.flushMs ?? 1000);
    this.timer.unref?.();
  }

  /** Write everything pending now (writes run one after another, in order). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.cut();
    const commands = this.commands.splice(0);
    const output = this.output.splice(0);
    const statuses = this.statuses.splice(0);
    if (commands.length === 0 && output.length === 0 && statuses.length === 0) return this.writing;
    for (const c of commands) this.taken.add(c);
    this.writing = this.writing.then(() =>
      this.write(this.sessionId, { commands, output, statuses }).catch((e: unknown) => {
        this.options.onError?.(e);
      }),
    );
    return this.writing;
  }

  /** The last write, then nothing more. */
  async close(): Promise<void> {
    const last = this.flush();
    this.closed = true;
    await last;
  }
}
