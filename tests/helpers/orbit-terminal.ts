// orbit on a real pseudo-terminal (util-linux `script` makes it), as a deployer at the console meets it:
// wait for what it prints (colours and cursor moves stripped), type keys into it.
import { spawn } from 'node:child_process';
import { ORBIT_MAIN } from './web-daemon.js';

export const ENTER = '\r';
export const DOWN = '\x1b[B';
export const UP = '\x1b[A';
export const BACKSPACE = '\x7f';
export const CTRL_C = '\x03';

/** orbit on a pseudo-terminal (util-linux `script`): wait for what it prints, type into it. */
export class Terminal {
  private out = '';
  private seen = 0;
  private readonly proc;
  readonly exited: Promise<number | null>;

  /** orbit with `args`; or, with `program`, that argv instead (e.g. agetty handing over to orbit). */
  constructor(args: string[], options: { program?: string[] } = {}) {
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
    delete env.CI;
    const command = (options.program ?? [process.execPath, ORBIT_MAIN, ...args]).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    this.proc = spawn('script', ['-qfec', `stty cols 200 rows 50; exec ${command}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => (this.out += d));
    this.proc.stderr.on('data', (d) => (this.out += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Everything printed so far, colours and cursor moves stripped. */
  get text(): string {
    return plain(this.out);
  }

  /** Wait for `re` in what was printed after the last match (as plain text), then move past it. */
  async expect(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text.slice(this.seen));
      if (m) {
        this.seen += m.index + m[0].length;
        return m[0];
      }
      if (Date.now() > deadline) {
        this.proc.kill();
        throw new Error(`timed out waiting for ${re}; printed:\n${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  type(keys: string): void {
    this.proc.stdin.write(keys);
  }

  async answer(prompt: RegExp, keys: string): Promise<void> {
    await this.expect(prompt);
    this.type(keys);
  }

  async end(timeoutMs = 60_000): Promise<number | null> {
    const t = setTimeout(() => this.proc.kill(), timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

export function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[()][0-9A-B]/g, '').replace(/\r/g, '');
}

