// The shell's own account of where a command begins and ends, when the target's shell gives one: the semantic
// prompt marks of shell integration (FinalTerm's OSC 133, which iTerm2, VS Code, WezTerm, kitty, foot and
// Windows Terminal read; VS Code's own OSC 633 carries the same letters). `ESC ] 133 ; A ST` starts the
// prompt, `B` ends it, `C` starts a command's output and `D ; status` ends it with its exit status; ST is BEL
// or ESC \. Only the shell knows a command's exit status, and this is the one place an interactive terminal
// says it.
//
// Read from every byte the target prints, so the cost is a search for ESC ] per chunk, and less for a chunk in
// which no mark can end (no BEL, no backslash: most of a flood); the state carried from one chunk to the next
// is a few dozen bytes whatever the target sends.

export type ShellMark = { kind: 'A' | 'B' | 'C' } | { kind: 'D'; status: number | null };

/** Searched as a latin1 string: V8's string search is several times faster here than with a Buffer needle. */
const OSC = '\x1b]';
const ESC = 0x1b;
const BEL = 0x07;
/** A mark is short (`133;D;255;aid=…`): a longer body is something else and is not kept. */
export const MAX_MARK_BODY = 64;
/** A sequence beginning further than this from a chunk's end, and not ended in it, is too long to be a mark. */
const TAIL = MAX_MARK_BODY + 2;

export class ShellMarkScanner {
  /** The body of the OSC being read (after `ESC ]`), while it may still be a mark; null outside one. */
  private body: string | null = null;
  /** The last byte was an ESC inside the body: a `\` next ends it. */
  private bodyEsc = false;
  /** The chunk before ended with an ESC: a `]` at the start of this one begins an OSC. */
  private trailingEsc = false;

  /** `shortcut: false` reads every chunk whole (a reference for tests: the same marks, more slowly). */
  constructor(private readonly options: { shortcut?: boolean } = {}) {}

  /** Bytes the target printed, in order; `onMark` hears every complete mark in them. */
  scan(buf: Buffer, onMark: (mark: ShellMark) => void): void {
    const len = buf.length;
    if (len === 0) return;
    let i = 0;
    if (this.trailingEsc) {
      this.trailingEsc = false;
      if (buf[0] === 0x5d) {
        this.body = '';
        i = 1;
      }
    }
    if (this.body !== null) {
      i = this.readBody(buf, i, onMark);
      if (this.body !== null) return;
    }
    // Two searches for a single byte are cheaper than one for ESC ] in coloured output (an ESC every few bytes).
    // Without a terminator in the rest of the chunk no mark ends in it, and one that begins earlier than TAIL
    // bytes from its end would outgrow MAX_MARK_BODY before the next chunk: only the end needs reading.
    if (len - i > TAIL && this.options.shortcut !== false && buf.indexOf(BEL, i) < 0 && buf.indexOf(0x5c, i) < 0) i = len - TAIL;
    for (;;) {
      if (this.body !== null) {
        i = this.readBody(buf, i, onMark);
        if (this.body !== null) return; // the chunk ended inside the sequence
      }
      if (i >= len) return;
      const at = buf.indexOf(OSC, i, 'latin1');
      if (at < 0) {
        this.trailingEsc = buf[len - 1] === ESC;
        return;
      }
      this.body = '';
      i = at + 2;
    }
  }

  /** Read the body from `i`: returns where scanning goes on (the body is null again once it is over). */
  private readBody(buf: Buffer, i: number, onMark: (mark: ShellMark) => void): number {
    const len = buf.length;
    for (; i < len; i++) {
      const b = buf[i]!;
      if (this.bodyEsc) {
        this.bodyEsc = false;
        if (b === 0x5c) {
          this.finish(onMark);
          return i + 1;
        }
        // ESC and anything else cancels the OSC (as xterm reads it) and starts a new sequence.
        if (b === 0x5d) {
          this.body = '';
          continue;
        }
        this.body = null;
        return i;
      }
      if (b === BEL) {
        this.finish(onMark);
        return i + 1;
      }
      if (b === ESC) {
        this.bodyEsc = true;
        continue;
      }
      const body: string = this.body!;
      if (b < 0x20 || b > 0x7e || body.length >= MAX_MARK_BODY || !prefixMayMatch(body.length, b)) {
        // Not a mark (a window title, a hyperlink, garbage): skip it; scanning for the next ESC ] goes on.
        this.body = null;
        return i;
      }
      this.body = body + String.fromCharCode(b);
    }
    return len;
  }

  /** Characters held between chunks (for tests of its bound). */
  get heldChars(): number {
    return this.body?.length ?? 0;
  }

  private finish(onMark: (mark: ShellMark) => void): void {
    const body = this.body!;
    this.body = null;
    const mark = parseMark(body);
    if (mark) onMark(mark);
  }
}

/** Whether a body with `length` characters so far, followed by byte `b`, can still begin `133;` or `633;`. */
function prefixMayMatch(length: number, b: number): boolean {
  switch (length) {
    case 0:
      return b === 0x31 || b === 0x36; // 1 or 6
    case 1:
    case 2:
      return b === 0x33; // 3
    case 3:
      return b === 0x3b; // ;
    default:
      return true;
  }
}

/** `133;D;1` → D with status 1. Letters other than A–D (VS Code's E, P…) and malformed bodies: null. */
export function parseMark(body: string): ShellMark | null {
  if (body.length < 5 || (!body.startsWith('133;') && !body.startsWith('633;'))) return null;
  const kind = body[4];
  if (body.length > 5 && body[5] !== ';') return null;
  switch (kind) {
    case 'A':
    case 'B':
    case 'C':
      return { kind };
    case 'D': {
      // `D;status[;key=value…]` (WezTerm and kitty add `aid=`); no status or a bad one: the shell did not say.
      const field = body.length > 6 ? body.slice(6).split(';', 1)[0]! : '';
      const status = /^-?\d{1,10}$/.test(field) ? Number(field) : NaN;
      // A 32-bit signed integer fits every engine's INTEGER column; a shell's status is 0–255 anyway.
      return { kind, status: status >= -2147483648 && status <= 2147483647 ? status : null };
    }
    default:
      return null;
  }
}
