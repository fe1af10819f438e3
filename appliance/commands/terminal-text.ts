// The text of terminal output, for the full-text index: escape sequences (colours, cursor movement, titles)
// removed, line ends made plain. Stateful, because a sequence may be cut between two chunks.
import { StringDecoder } from 'node:string_decoder';

export class TerminalText {
  private readonly decoder = new StringDecoder('utf8');
  private state: 'text' | 'esc' | 'csi' | 'osc' | 'osc-esc' = 'text';
  private out = '';

  /** Feed output bytes; the text accumulates until `take()`. */
  write(buf: Buffer | string): void {
    const s = typeof buf === 'string' ? buf : this.decoder.write(buf);
    let out = '';
    const len = s.length;
    for (let i = 0; i < len; i++) {
      if (this.state === 'text') {
        // A run of text that is kept as it is (most output): one slice, not a string per character.
        let end = i;
        while (end < len && keptAsIs(s.charCodeAt(end))) end++;
        if (end > i) {
          out += s.slice(i, end);
          i = end - 1;
          continue;
        }
      }
      const ch = s[i]!;
      switch (this.state) {
        case 'esc':
          this.state = ch === '[' ? 'csi' : ch === ']' ? 'osc' : 'text';
          continue;
        case 'csi':
          if (ch >= '@' && ch <= '~') this.state = 'text';
          continue;
        case 'osc':
          if (ch === '\x07') this.state = 'text';
          else if (ch === '\x1b') this.state = 'osc-esc';
          continue;
        case 'osc-esc':
          this.state = ch === '\\' ? 'text' : 'osc';
          continue;
        case 'text':
          break;
      }
      if (ch === '\x1b') this.state = 'esc';
      else if (ch === '\n' || ch === '\t' || (ch >= ' ' && !(ch >= '\x7f' && ch <= '\x9f'))) out += ch;
      // other control characters (CR, BS, BEL) carry no searchable text
    }
    this.out += out;
  }

  /** How much text is waiting. */
  get length(): number {
    return this.out.length;
  }

  /** The text so far, and start again. */
  take(): string {
    const t = this.out;
    this.out = '';
    return t;
  }
}

/** Printable text, newline and tab: what write() keeps unchanged in the text state. */
function keptAsIs(c: number): boolean {
  return c === 0x0a || c === 0x09 || (c >= 0x20 && c !== 0x1b && !(c >= 0x7f && c <= 0x9f));
}
