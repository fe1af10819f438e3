// Which interactive command an exit status belongs to. The shell reports a status with the `D` mark (see
// shell-marks.ts) after the command's output; this decides whose it is, and leaves a status unknown rather
// than guess: a line counts only when it was entered while the shell was showing its prompt (the last mark
// was D, A or B and no Enter went to the target since), and it takes the first D after it. So a line typed
// into a running program, a line typed ahead while the previous command ran, an empty Enter (bash reports
// the previous status again) and a blocked line (its Ctrl-C makes bash report 130) get nothing.
//
// Without marks no line ever counts, except that the shell's own end is unambiguous about one: the last line
// was `exit N` (or `logout N`) and the channel then ended with status N.
import { ShellMarkScanner, type ShellMark } from './shell-marks.js';

/** `exit 3`, `logout 3`: the line that ends a shell with that status (a trailing `;` is allowed). */
const EXIT_LINE = /^(?:exit|logout)[ \t]+(\d{1,10})[ \t]*;?$/;

export class ExitStatusTracker<T> {
  private readonly scanner = new ShellMarkScanner();
  /** The shell has shown (or is about to show) its prompt, and no Enter has gone to it since. */
  private atPrompt = false;
  /** The line entered at the prompt, waiting for its D. */
  private candidate: T | null = null;
  /** The last line entered (to whatever read it), and whether it was given a status. */
  private last: { command: T | null; line: string; settled: boolean } | null = null;
  private readonly onMark = (m: ShellMark) => this.mark(m);

  constructor(private readonly onStatus: (command: T, status: number) => void) {}

  /** Bytes the target printed. */
  output(buf: Buffer): void {
    this.scanner.scan(buf, this.onMark);
  }

  /**
   * An Enter went to the target, submitting `line`; `command` is what the status would be reported for (null
   * for a line not reported: empty, or unechoed). Not for a blocked line: it never reached the shell.
   */
  submitted(command: T | null, line: string): void {
    // Entered while a command runs: input for it, or typed ahead; either way the D to come is not this line's.
    if (this.atPrompt) this.candidate = command;
    this.atPrompt = false;
    this.last = { command, line, settled: false };
  }

  /** The channel ended, with the target's exit status if it gave one. */
  ended(exitCode: number | null): void {
    const last = this.last;
    this.candidate = null;
    this.last = null;
    if (exitCode === null || !last || last.settled || last.command === null) return;
    const m = EXIT_LINE.exec(last.line);
    if (m && (Number(m[1]) & 0xff) === exitCode) this.onStatus(last.command, exitCode);
  }

  private mark(m: ShellMark): void {
    if (m.kind === 'C') {
      this.atPrompt = false;
      return;
    }
    if (m.kind === 'D' && this.candidate !== null) {
      const command = this.candidate;
      this.candidate = null;
      if (this.last?.command === command) this.last.settled = true;
      if (m.status !== null) this.onStatus(command, m.status);
    } else if (m.kind !== 'D') {
      // A prompt drawn without a D for the line before it: that line's status was not reported.
      this.candidate = null;
    }
    this.atPrompt = true;
  }
}
