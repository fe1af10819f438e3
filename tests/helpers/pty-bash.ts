// A real interactive bash with readline in a pseudo-terminal (util-linux `script` makes the pty), for tests
// of what a line editor echoes. Every command bash runs is appended to a history file right away
// (PROMPT_COMMAND='history -a'), so a test can compare what was reconstructed with what bash really ran.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface PtyBashOptions {
  columns?: number;
  rows?: number;
  /** Replaces the default PROMPT_COMMAND (`history -a`), e.g. to print shell-integration marks. */
  promptCommand?: string;
}

export class PtyBash {
  readonly dir: string;
  readonly histfile: string;
  private readonly proc: ChildProcess;
  private output = '';
  private outputListeners: ((buf: Buffer) => void)[] = [];
  private exited: Promise<void>;
  /** The exit code of `script` (bash's), once it has exited. */
  exitCode: number | null = null;

  constructor(options: PtyBashOptions = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'warden-pty-'));
    this.histfile = path.join(this.dir, 'history');
    writeFileSync(this.histfile, '');
    const cols = options.columns ?? 80;
    const rows = options.rows ?? 24;
    this.proc = spawn('script', ['-qfec', `stty cols ${cols} rows ${rows}; exec bash --norc --noprofile -i`, '/dev/null'], {
      cwd: this.dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: this.dir,
        TERM: 'xterm',
        LANG: 'C.UTF-8',
        HISTFILE: this.histfile,
        HISTCONTROL: '',
        PROMPT_COMMAND: options.promptCommand ?? 'history -a',
        PS1: 'W$ ',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('latin1');
      for (const l of this.outputListeners) l(d);
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
  }

  /** Every byte bash prints, as it arrives. */
  onOutput(listener: (buf: Buffer) => void): void {
    this.outputListeners.push(listener);
  }

  write(bytes: Buffer | string): void {
    this.proc.stdin!.write(bytes);
  }

  get printed(): string {
    return this.output;
  }

  /** Wait until bash has printed something matching `re` after `from` (an offset into `printed`). */
  async waitFor(re: RegExp, from = 0, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.output.slice(from))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in ${JSON.stringify(this.output.slice(from))}`);
      await sleep(10);
    }
  }

  /** Wait for the output to stay unchanged for `quietMs`. */
  async settle(quietMs = 150, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = this.output.length;
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      if (Date.now() > deadline) return;
      await sleep(10);
      if (this.output.length !== last) {
        last = this.output.length;
        since = Date.now();
      }
    }
  }

  /** The commands bash ran, one per history entry line. */
  history(): string[] {
    return readFileSync(this.histfile, 'utf8').split('\n').filter((l) => l !== '');
  }

  /** Resolves when bash has exited (by itself: see close). */
  get ended(): Promise<void> {
    return this.exited;
  }

  async close(): Promise<void> {
    if (this.exitCode === null && this.proc.signalCode === null) this.proc.stdin!.end('exit\r');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
