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
    for (const ch of s) {
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
