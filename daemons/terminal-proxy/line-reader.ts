// Line input on a server channel for the menu and its prompts. With a PTY the client's terminal is raw, so
// the proxy echoes and edits (backspace, Ctrl-U); without one the client sends whole lines. Bounded: a line
// longer than `max` is cut, and nothing is buffered beyond the line being typed.
import type { ServerChannel } from 'ssh2';

export class LineReader {
  private line = '';
  private pending: ((line: string | null) => void) | null = null;
  private ended = false;
  private readonly onData = (d: Buffer) => this.feed(d);
  private readonly onEnd = () => this.finish(null);

  constructor(
    private readonly stream: ServerChannel,
    private readonly echo: boolean,
    private readonly max = 1024,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
  }

  /** Write a prompt and wait for one line; null when the client quit (Ctrl-C, Ctrl-D, EOF). */
  read(prompt: string): Promise<string | null> {
    if (this.ended) return Promise.resolve(null);
    this.stream.write(prompt);
    return new Promise((resolve) => (this.pending = resolve));
  }

  /** Stop listening: the channel is handed to the bridge. */
  detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
  }

  private finish(line: string | null): void {
    if (line === null) this.ended = true;
    const p = this.pending;
    this.pending = null;
    this.line = '';
    p?.(line);
  }

  private feed(d: Buffer): void {
    for (const byte of d) {
      if (this.pending === null) return; // typed ahead of a prompt: dropped
      if (byte === 0x03 || byte === 0x04) {
        if (this.echo) this.stream.write('\r\n');
        this.finish(null);
      } else if (byte === 0x0d || byte === 0x0a) {
        if (this.echo) this.stream.write('\r\n');
        this.finish(this.line);
      } else if (byte === 0x7f || byte === 0x08) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          if (this.echo) this.stream.write('\b \b');
        }
      } else if (byte === 0x15) {
        if (this.echo) this.stream.write('\b \b'.repeat(this.line.length));
        this.line = '';
      } else if (byte >= 0x20 && byte < 0x7f && this.line.length < this.max) {
        this.line += String.fromCharCode(byte);
        if (this.echo) this.stream.write(String.fromCharCode(byte));
      }
    }
  }
}
