// A small model of the terminal the user looks at, fed with what the target prints. It understands the
// cursor movement and erasing that line editors (readline, zle, libedit) use to redraw the line being typed,
// so the text of that line can be read back as the user saw it: history recall and tab completion arrive
// here as redraws, whatever keys produced them.
import { StringDecoder } from 'node:string_decoder';

/** Rows far above the cursor are dropped: a long session keeps a bounded model. */
const KEEP_ROWS = 200;
/** A CSI sequence longer than this is garbage, not a sequence (bounded state on hostile output). */
const MAX_SEQUENCE = 64;

export class TerminalScreen {
  /** Absolute row index → cells (undefined: never written, reads as nothing). */
  private rows = new Map<number, string[]>();
  row = 0;
  col = 0;
  /** xterm's deferred wrap: a character written in the last column leaves the cursor there until the next. */
  private pendingWrap = false;
  private width: number;
  private height: number;
  private readonly decoder = new StringDecoder('utf8');
  private state: ParserState = 'text';
  private seq = '';
  /** Changes whenever the screen is cleared: a position taken before is no longer the same line. */
  clears = 0;

  /**
   * `skipScrolled: false` writes every row even when it scrolls far out of the model within one write (a
   * reference for tests: the same screen, more slowly).
   */
  constructor(width = 80, height = 24, private readonly options: { skipScrolled?: boolean } = {}) {
    this.width = Math.max(1, Math.min(1000, Math.floor(width)));
    this.height = Math.max(1, Math.min(1000, Math.floor(height)));
  }

  resize(width: number, height: number): void {
    this.width = Math.max(1, Math.min(1000, Math.floor(width) || 80));
    this.height = Math.max(1, Math.min(1000, Math.floor(height) || 24));
    if (this.col >= this.width) this.col = this.width - 1;
  }

  get columns(): number {
    return this.width;
  }

  write(buf: Buffer | string): void {
    const text = typeof buf === 'string' ? buf : this.decoder.write(buf);
    const len = text.length;
    // Output that scrolls far past: rows more than KEEP_ROWS/2 above where the cursor ends are dropped by the
    // trim at the end of this call, so their text need not be written at all, only the cursor followed.
    const { from: downwardFrom, lineFeeds } = this.options.skipScrolled === false ? { from: len, lineFeeds: 0 } : downwardTail(text, this.state, this.seq);
    let feedsLeft = lineFeeds;
    let n = 0;
    let i = 0;
    while (i < len) {
      let code = text.charCodeAt(i);
      if (this.state === 'text' && code >= 0x20 && code < 0x7f && i >= downwardFrom && feedsLeft > KEEP_ROWS / 2 + 2) {
        // From here on the cursor only moves down or sideways, and more line feeds follow than rows are kept:
        // this run ends far above the cursor. Follow the cursor (wraps included), write no cells.
        do {
          if (this.pendingWrap) {
            this.row++;
            this.col = 0;
            this.pendingWrap = false;
            if (this.row > this.maxRow) this.maxRow = this.row;
          }
          if (this.col + 1 >= this.width) this.pendingWrap = true;
          else this.col++;
          if (++n % 4096 === 0) this.trim();
          code = ++i < len ? text.charCodeAt(i) : 0;
        } while (code >= 0x20 && code < 0x7f);
        continue;
      }
      if (this.state === 'text' && (code === 0x0a || code === 0x0b || code === 0x0c) && i >= downwardFrom) feedsLeft--;
      if (this.state === 'text' && code >= 0x20 && code < 0x7f) {
        // A run of printable ASCII (most of any output): straight into the row's cells, the same as text()
        // does one character at a time, without a call and a lookup per character.
        let cells = this.cells(this.row);
        do {
          if (this.pendingWrap) {
            this.row++;
            this.col = 0;
            this.pendingWrap = false;
            if (this.row > this.maxRow) this.maxRow = this.row;
            cells = this.cells(this.row);
          }
          cells[this.col] = text[i]!;
          if (this.col + 1 >= this.width) this.pendingWrap = true;
          else this.col++;
          if (++n % 4096 === 0) this.trim();
          code = ++i < len ? text.charCodeAt(i) : 0;
        } while (code >= 0x20 && code < 0x7f);
        continue;
      }
      // One code point, as `for (const ch of text)` would give it: a surrogate pair is one character.
      const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < len && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      const ch = pair ? text.slice(i, i + 2) : text[i]!;
      i += pair ? 2 : 1;
      this.step(ch);
      if (this.row > this.maxRow) this.maxRow = this.row;
      if (++n % 4096 === 0) this.trim();
    }
    this.trim();
  }

  /** Bytes as text, the way write() would read them (a character cut between two chunks waits). */
  decode(buf: Buffer | string): string {
    return typeof buf === 'string' ? buf : this.decoder.write(buf);
  }

  /**
   * Follow `text` (decoded) without drawing the part of it that scrolls far out of the model, when that can
   * be told without reading it character by character: the cursor on the lowest row, every sequence in the
   * text one that moves nothing up nor clears (colours, modes, titles, erasing on the line), and more than
   * KEEP_ROWS/2 line feeds after a CR LF. Everything up to that CR LF is then gone from the model (it ends
   * far above the cursor, as trim() would drop it) and the cursor is at the start of a new lowest row.
   * Returns where the rest of `text` begins, still to be written; 0 when nothing could be skipped.
   * `afterClean`: the model has yet to be given the kept end of an earlier fast-forward (which leaves it in
   * text, on its lowest row); `text` follows that end, which it then skips too.
   */
  fastForward(text: string, afterClean = false): number {
    if (this.options.skipScrolled === false) return 0;
    if (!afterClean && (this.state !== 'text' || this.row < this.maxRow)) return 0;
    let lf = text.length;
    for (let k = 0; k < KEEP_ROWS / 2 + 3; k++) {
      lf = text.lastIndexOf('\n', lf - 1);
      if (lf <= 0) return 0;
    }
    if (text.charCodeAt(lf - 1) !== 0x0d) return 0;
    for (let j = text.indexOf('\x1b'); j >= 0; j = text.indexOf('\x1b', j + 1)) {
      const end = harmlessSequenceEnd(text, j);
      if (end < 0) return 0;
      if (j <= lf && end >= lf - 1) return 0; // the CR LF is inside a sequence: not a line end
      j = end;
    }
    this.rows.clear();
    // Absolute rows only grow; the skipped rows are more than a screen and the kept rows away.
    this.row += KEEP_ROWS + this.height + 1;
    this.maxRow = this.row;
    this.col = 0;
    this.pendingWrap = false;
    return lf + 1;
  }

  /** The text of one row, trailing blanks dropped. */
  rowText(r: number): string {
    const cells = this.rows.get(r);
    if (!cells) return '';
    let s = '';
    for (let i = 0; i < cells.length; i++) s += cells[i] ?? ' ';
    return s.replace(/\s+$/, '');
  }

  /** Whether a row is written up to its last column: the text continues on the next row (a wrap). */
  rowIsFull(r: number): boolean {
    const cells = this.rows.get(r);
    return cells !== undefined && cells.length >= this.width && cells[this.width - 1] !== undefined;
  }

  /** The highest row holding any text. */
  lastRow(): number {
    let last = this.row;
    for (const [r, cells] of this.rows) if (r > last && cells.some((c) => c !== undefined && c !== ' ')) last = r;
    return last;
  }

  private cells(r: number): string[] {
    let c = this.rows.get(r);
    if (!c) this.rows.set(r, (c = []));
    return c;
  }

  /** The first row of the visible screen: rows below the lowest the cursor reached scroll it up. */
  private get top(): number {
    this.maxRow = Math.max(this.maxRow, this.row);
    return Math.max(this.floor, this.maxRow - this.height + 1);
  }
  private maxRow = 0;
  /** The top row after the last clear of the screen. */
  get firstRow(): number {
    return this.floor;
  }
  /** The first row after the last clear of the screen (rows are absolute and only grow). */
  private floor = 0;

  private step(ch: string): void {
    switch (this.state) {
      case 'text':
        return this.text(ch);
      case 'esc':
        this.state = 'text';
        if (ch === '[') {
          this.state = 'csi';
          this.seq = '';
        } else if (ch === ']') {
          this.state = 'osc';
        } else if (ch === '(' || ch === ')' || ch === '*' || ch === '+' || ch === '#') {
          this.state = 'charset';
        } else if (ch === 'M') {
          this.row = Math.max(0, this.row - 1);
        } else if (ch === 'D' || ch === 'E') {
          this.row++;
          if (ch === 'E') this.col = 0;
        } else if (ch === 'c') {
          this.clearAll();
        }
        return;
      case 'charset':
        this.state = 'text';
        return;
      case 'osc':
        if (ch === '\x07') this.state = 'text';
        else if (ch === '\x1b') this.state = 'osc-esc';
        return;
      case 'osc-esc':
        this.state = ch === '\\' ? 'text' : 'osc';
        return;
      case 'csi': {
        const code = ch.charCodeAt(0);
        if (code >= 0x40 && code <= 0x7e) {
          this.state = 'text';
          this.csi(this.seq, ch);
        } else if (this.seq.length >= MAX_SEQUENCE) {
          this.state = 'text';
        } else {
          this.seq += ch;
        }
        return;
      }
    }
  }

  private text(ch: string): void {
    switch (ch) {
      case '\x1b':
        this.state = 'esc';
        return;
      case '\r':
        this.col = 0;
        this.pendingWrap = false;
        return;
      case '\n':
      case '\x0b':
      case '\x0c':
        this.row++;
        this.pendingWrap = false;
        return;
      case '\b':
        if (this.col > 0) this.col--;
        this.pendingWrap = false;
        return;
      case '\t':
        this.col = Math.min(this.width - 1, (Math.floor(this.col / 8) + 1) * 8);
        return;
      case '\x07':
        return;
    }
    const code = ch.charCodeAt(0);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return; // C1 controls (U+009B is a CSI to some terminals)
    if (this.pendingWrap) {
      this.row++;
      this.col = 0;
      this.pendingWrap = false;
    }
    this.cells(this.row)[this.col] = ch;
    if (this.col + 1 >= this.width) this.pendingWrap = true;
    else this.col++;
  }

  private csi(params: string, final: string): void {
    if (params.startsWith('?') || params.startsWith('>') || params.startsWith('=')) return; // private modes
    const nums = params.split(';').map((p) => (p === '' ? NaN : Number.parseInt(p, 10)));
    const n = (i: number, dflt: number) => {
      const v = nums[i];
      return v === undefined || Number.isNaN(v) ? dflt : Math.min(v, 10_000);
    };
    const line = this.cells(this.row);
    this.pendingWrap = false;
    switch (final) {
      case 'A':
        this.row = Math.max(0, this.row - Math.max(1, n(0, 1)));
        return;
      case 'B':
        this.row += Math.max(1, n(0, 1));
        return;
      case 'C':
        this.col = Math.min(this.width - 1, this.col + Math.max(1, n(0, 1)));
        return;
      case 'D':
        this.col = Math.max(0, this.col - Math.max(1, n(0, 1)));
        return;
      case 'E':
        this.row += Math.max(1, n(0, 1));
        this.col = 0;
        return;
      case 'F':
        this.row = Math.max(0, this.row - Math.max(1, n(0, 1)));
        this.col = 0;
        return;
      case 'G':
      case '`':
        this.col = Math.min(this.width - 1, Math.max(0, n(0, 1) - 1));
        return;
      case 'H':
      case 'f':
        this.row = this.top + Math.max(0, n(0, 1) - 1);
        this.col = Math.min(this.width - 1, Math.max(0, n(1, 1) - 1));
        return;
      case 'd':
        this.row = this.top + Math.max(0, n(0, 1) - 1);
        return;
      case 'K': {
        const mode = n(0, 0);
        if (mode === 0) line.length = Math.min(line.length, this.col);
        else if (mode === 1) for (let i = 0; i <= this.col && i < line.length; i++) line[i] = ' ';
        else line.length = 0;
        return;
      }
      case 'J': {
        const mode = n(0, 0);
        if (mode === 0) {
          line.length = Math.min(line.length, this.col);
          for (const r of [...this.rows.keys()]) if (r > this.row) this.rows.delete(r);
        } else if (mode === 2 || mode === 3) {
          this.clearAll();
        }
        return;
      }
      case 'P': {
        // delete characters: the rest of the row shifts left
        line.splice(this.col, Math.max(1, n(0, 1)));
        return;
      }
      case '@': {
        const count = Math.max(1, n(0, 1));
        if (line.length > this.col) line.splice(this.col, 0, ...Array<string>(count).fill(' '));
        if (line.length > this.width) line.length = this.width;
        return;
      }
      case 'X': {
        const count = Math.max(1, n(0, 1));
        for (let i = this.col; i < this.col + count && i < line.length; i++) line[i] = ' ';
        return;
      }
      default:
        return; // colours (m), scroll regions (r) and the rest do not move text on the line
    }
  }

  /** Clear screen: the model starts afresh at the top, so rows before it no longer count. */
  private clearAll(): void {
    const rel = this.row - this.top;
    this.rows.clear();
    this.clears++;
    // Absolute rows keep increasing so a position taken before the clear cannot alias one after it.
    this.floor = Math.max(this.maxRow, this.row) + 1;
    this.row = this.floor + Math.max(0, rel);
    this.maxRow = this.row;
  }

  /** Rows far from the cursor, above or below, go: hostile output cannot grow the model without bound. */
  private trim(): void {
    if (this.rows.size <= KEEP_ROWS) return;
    for (const r of [...this.rows.keys()]) if (Math.abs(r - this.row) > KEEP_ROWS / 2) this.rows.delete(r);
  }

  /** How many rows the model holds (for tests of its bound). */
  get heldRows(): number {
    return this.rows.size;
  }
}

type ParserState = 'text' | 'esc' | 'csi' | 'osc' | 'osc-esc' | 'charset';

/**
 * Where the tail of `text` begins in which the model (in `state`, `seq` collected so far) moves the cursor only
 * down or sideways — printable text, CR, LF, tab, backspace, colours, modes, titles, erasing on the line; no
 * cursor-up, no absolute position, no clear — and how many line feeds that tail holds. The same state machine
 * as step(), without its effects, so both read every sequence alike.
 */
function downwardTail(text: string, state: ParserState = 'text', seq = ''): { from: number; lineFeeds: number } {
  const len = text.length;
  let st = state;
  let seqLen = seq.length;
  let seqFirst = seq.length > 0 ? seq.charCodeAt(0) : -1;
  let from = 0;
  let lineFeeds = 0;
  for (let j = 0; j < len; j++) {
    const c = text.charCodeAt(j);
    const at = j;
    // A surrogate pair is one character to step(), as `for...of` gives it.
    if (c >= 0xd800 && c <= 0xdbff && j + 1 < len && (text.charCodeAt(j + 1) & 0xfc00) === 0xdc00) j++;
    let up = false;
    switch (st) {
      case 'text':
        if (c === 0x1b) st = 'esc';
        else if (c === 0x0a || c === 0x0b || c === 0x0c) lineFeeds++;
        break;
      case 'esc':
        st = 'text';
        if (c === 0x5b) {
          st = 'csi';
          seqLen = 0;
          seqFirst = -1;
        } else if (c === 0x5d) st = 'osc';
        else if (c === 0x28 || c === 0x29 || c === 0x2a || c === 0x2b || c === 0x23) st = 'charset';
        else if (c === 0x4d /* M: up */ || c === 0x63 /* c: reset */) up = true;
        break;
      case 'charset':
        st = 'text';
        break;
      case 'osc':
        if (c === 0x07) st = 'text';
        else if (c === 0x1b) st = 'osc-esc';
        break;
      case 'osc-esc':
        st = c === 0x5c ? 'text' : 'osc';
        break;
      case 'csi':
        if (c >= 0x40 && c <= 0x7e) {
          st = 'text';
          const priv = seqFirst === 0x3f || seqFirst === 0x3e || seqFirst === 0x3d;
          // A F H f d move up or to a place; J clears.
          if (!priv && (c === 0x41 || c === 0x46 || c === 0x48 || c === 0x66 || c === 0x64 || c === 0x4a)) up = true;
        } else if (seqLen >= MAX_SEQUENCE) {
          st = 'text';
        } else {
          if (seqLen === 0) seqFirst = c;
          seqLen += j - at + 1; // as `seq.length` counts: UTF-16 units
        }
        break;
    }
    if (up) {
      from = at + 1;
      lineFeeds = 0;
    }
  }
  return { from, lineFeeds };
}

/**
 * The index of the last character of a complete sequence at `j` (an ESC) that moves no cursor up, sets no
 * position and clears nothing, as step() reads it; -1 for any other (or one cut off at the end).
 */
function harmlessSequenceEnd(text: string, j: number): number {
  const next = text.charCodeAt(j + 1);
  if (next === 0x5b) {
    const first = text.charCodeAt(j + 2);
    const priv = first === 0x3f || first === 0x3e || first === 0x3d;
    for (let k = j + 2; k < text.length && k < j + 2 + MAX_SEQUENCE; k++) {
      const c = text.charCodeAt(k);
      if (c >= 0x40 && c <= 0x7e) return priv || !(c === 0x41 || c === 0x46 || c === 0x48 || c === 0x66 || c === 0x64 || c === 0x4a) ? k : -1;
      if (c < 0x20 || c > 0x3f) return -1;
    }
    return -1;
  }
  if (next === 0x5d) {
    // A title: to BEL, or ESC \ (any other ESC inside: not this simple case).
    const bel = text.indexOf('\x07', j + 2);
    const esc = text.indexOf('\x1b', j + 2);
    if (bel >= 0 && (esc < 0 || bel < esc)) return bel;
    if (esc >= 0 && text.charCodeAt(esc + 1) === 0x5c) return esc + 1;
    return -1;
  }
  return -1;
}
