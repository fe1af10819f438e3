// The command lines of an interactive shell session, rebuilt from both directions: the user's keys say when
// a line is entered (Enter) or dropped (Ctrl-C); the target's echo says what the line is. The echo is the
// truth because the shell edits the line, not the keyboard: history recall, tab completion and reverse
// search change it without the keys spelling it. A model of the keys alone is kept too, for the moment the
// echo lags behind a fast typist (see typedLine).
import { TerminalScreen } from './terminal-screen.js';

/** What one key from the user means for the line being entered. */
export type KeyEvent = 'enter' | 'cancel' | null;

/** Longest line the key model keeps (a paste larger than this is judged on its echo alone). */
const MAX_TYPED = 64 * 1024;
/** readline and libedit put this before the search text while Ctrl-R is active. */
const SEARCH_PROMPT = /^\((?:failed )?(?:reverse-)?i-search\)`[^']*': /;

/** Output held back while no line is being edited, at most (characters) before it is followed on the screen. */
const DEFER_CHARS = 256 * 1024;

export class LineReconstructor {
  private readonly model: TerminalScreen;
  /**
   * Output that arrived while no line was being edited: only the screen as it will be when the next key
   * arrives matters, so a flood is looked at in large pieces and what scrolls far away is only followed
   * (TerminalScreen.fastForward), never drawn.
   */
  private deferred: string[] = [];
  private deferredChars = 0;
  /**
   * What is held back is only the kept end of a fast-forward: checked to move nothing up and to end outside
   * any sequence, so the next piece of output may be fast-forwarded on its own, without joining the two.
   */
  private deferredClean = false;
  /** Where the line began on the screen: the cursor when the user's first key of the line arrived. */
  private anchor: { row: number; col: number; prompt: string; clears: number } | null = null;
  /** The prompt seen at the last anchor, to recognise it again on a line redrawn from the left edge. */
  private lastPrompt = '';
  private inState: 'text' | 'esc' | 'csi' | 'ss3' = 'text';
  private csi = '';
  private pasting = false;
  /** The line as the keys alone would make it, while only plain editing keys were used. */
  private typed: string[] = [];
  private typedCursor = 0;
  private typedTrusted = true;

  constructor(columns = 80, rows = 24) {
    this.model = new TerminalScreen(columns, rows);
  }

  /** The screen model, up to date. */
  get screen(): TerminalScreen {
    this.settle();
    return this.model;
  }

  resize(columns: number, rows: number): void {
    this.settle();
    this.model.resize(columns, rows);
  }

  /** Bytes the target printed (echo and output alike). */
  output(buf: Buffer | string): void {
    if (this.anchor !== null) {
      this.settle();
      this.model.write(buf);
      return;
    }
    const text = this.model.decode(buf);
    if (text.length === 0) return;
    const from = this.deferredChars === 0 ? this.model.fastForward(text) : this.deferredClean ? this.model.fastForward(text, true) : 0;
    if (from > 0) {
      this.deferred = [text.slice(from)];
      this.deferredChars = text.length - from;
      this.deferredClean = true;
      return;
    }
    this.deferredClean = false;
    this.deferred.push(text);
    this.deferredChars += text.length;
    if (this.deferredChars >= DEFER_CHARS) this.compact();
  }

  /** Follow what was held back, skipping what scrolls far away; keep the rest held back. */
  private compact(): void {
    const text = this.deferred.length === 1 ? this.deferred[0]! : this.deferred.join('');
    const from = this.model.fastForward(text);
    const rest = from > 0 ? text.slice(from) : text;
    if (rest.length < DEFER_CHARS / 2) {
      this.deferred = [rest];
      this.deferredChars = rest.length;
      this.deferredClean = from > 0;
    } else {
      this.deferred = [];
      this.deferredChars = 0;
      this.model.write(rest);
    }
  }

  /** Put what was held back on the screen model. */
  private settle(): void {
    if (this.deferredChars === 0) return;
    const text = this.deferred.join('');
    this.deferred = [];
    this.deferredChars = 0;
    this.deferredClean = false;
    this.model.write(text);
  }

  /**
   * One byte the user sent. Returns 'enter' when it submits the line, 'cancel' when it drops it; the caller
   * reads `currentLine()` before calling `commit()` or `reset()`.
   */
  inputByte(b: number): KeyEvent {
    if (this.anchor === null) this.setAnchor();
    switch (this.inState) {
      case 'esc':
        if (b === 0x5b) {
          this.inState = 'csi';
          this.csi = '';
        } else if (b === 0x4f) {
          this.inState = 'ss3';
        } else {
          this.inState = 'text';
          this.typedTrusted = false; // Alt-key: a readline command the key model does not follow
        }
        return null;
      case 'ss3':
        this.inState = 'text';
        this.cursorKey(b);
        return null;
      case 'csi':
        if (b >= 0x40 && b <= 0x7e) {
          this.inState = 'text';
          const params = this.csi;
          if (b === 0x7e && params === '200') this.pasting = true;
          else if (b === 0x7e && params === '201') this.pasting = false;
          else if (params === '' || params === '1') this.cursorKey(b);
          else this.typedTrusted = false;
        } else if (this.csi.length < 16) {
          this.csi += String.fromCharCode(b);
        } else {
          this.inState = 'text';
        }
        return null;
      case 'text':
        break;
    }
    if (this.pasting) {
      // Inside a bracketed paste the shell inserts newlines into the line instead of running it.
      if (b === 0x1b) this.inState = 'esc';
      else this.typeChar(b === 0x0d ? '\n' : String.fromCharCode(b));
      return null;
    }
    switch (b) {
      case 0x0d:
      case 0x0a:
        return 'enter';
      case 0x03:
        return 'cancel';
      case 0x1b:
        this.inState = 'esc';
        return null;
      case 0x7f:
      case 0x08:
        if (this.typedCursor > 0) this.typed.splice(--this.typedCursor, 1);
        return null;
      case 0x15: // Ctrl-U
        this.typed.splice(0, this.typedCursor);
        this.typedCursor = 0;
        return null;
      case 0x0b: // Ctrl-K
        this.typed.length = this.typedCursor;
        return null;
      case 0x17: {
        // Ctrl-W: the word before the cursor, and the blanks after it
        let i = this.typedCursor;
        while (i > 0 && /\s/.test(this.typed[i - 1]!)) i--;
        while (i > 0 && !/\s/.test(this.typed[i - 1]!)) i--;
        this.typed.splice(i, this.typedCursor - i);
        this.typedCursor = i;
        return null;
      }
      case 0x01:
        this.typedCursor = 0;
        return null;
      case 0x05:
        this.typedCursor = this.typed.length;
        return null;
      case 0x02:
        this.typedCursor = Math.max(0, this.typedCursor - 1);
        return null;
      case 0x06:
        this.typedCursor = Math.min(this.typed.length, this.typedCursor + 1);
        return null;
    }
    if (b < 0x20) {
      this.typedTrusted = false; // Tab, Ctrl-R, Ctrl-Y…: the shell changes the line in ways only the echo shows
      return null;
    }
    this.typeChar(String.fromCharCode(b));
    return null;
  }

  private typeChar(ch: string): void {
    if (this.typed.length >= MAX_TYPED) {
      this.typedTrusted = false;
      return;
    }
    this.typed.splice(this.typedCursor++, 0, ch);
  }

  private cursorKey(b: number): void {
    if (b === 0x43) this.typedCursor = Math.min(this.typed.length, this.typedCursor + 1);
    else if (b === 0x44) this.typedCursor = Math.max(0, this.typedCursor - 1);
    else if (b === 0x48) this.typedCursor = 0;
    else if (b === 0x46) this.typedCursor = this.typed.length;
    else this.typedTrusted = false; // Up/Down: history
  }

  private setAnchor(): void {
    const s = this.screen;
    const prompt = s.rowText(s.row).slice(0, s.col);
    this.anchor = { row: s.row, col: s.col, prompt, clears: s.clears };
    if (prompt.trim() !== '') this.lastPrompt = prompt;
  }

  /** The line as the screen shows it now, without the prompt. */
  currentLine(): string {
    if (this.anchor === null) return '';
    const s = this.screen;
    let { row, col, prompt } = this.anchor;
    // A cleared screen (Ctrl-L) redraws the prompt and the line at its top.
    if (s.clears !== this.anchor.clears) row = s.firstRow;
    const last = Math.max(row, s.lastRow());
    let text = '';
    for (let r = row; r <= last; r++) {
      text += s.rowText(r);
      if (r < last && !s.rowIsFull(r)) text += '\n';
    }
    text = text.replace(/\n+$/, '');
    const search = SEARCH_PROMPT.exec(text);
    if (search) return text.slice(search[0].length).trim();
    if (prompt.trim() !== '' && text.startsWith(prompt)) return text.slice(prompt.length).trim();
    if (this.lastPrompt !== '' && text.startsWith(this.lastPrompt)) return text.slice(this.lastPrompt.length).trim();
    return text.slice(col).trim();
  }

  /** What stood left of the cursor when the line began (the prompt), '' before the first key. */
  promptText(): string {
    return this.anchor?.prompt ?? '';
  }

  /** The line as the keys alone make it, or null when keys the model does not follow were used. */
  typedLine(): string | null {
    return this.typedTrusted ? this.typed.join('').trim() : null;
  }

  /** The line was submitted or dropped: the next key starts a new one. */
  commit(): void {
    this.anchor = null;
    this.typed = [];
    this.typedCursor = 0;
    this.typedTrusted = true;
    this.pasting = false;
  }

  /**
   * Feed the user's bytes and return the lines submitted (a convenience for recording without judging;
   * the CommandGuard drives inputByte itself so it can hold the Enter back until the echo is in).
   */
  input(buf: Buffer): string[] {
    const lines: string[] = [];
    for (const b of buf) {
      const ev = this.inputByte(b);
      if (ev === 'enter') {
        const line = this.currentLine();
        if (line !== '') lines.push(line);
        this.commit();
      } else if (ev === 'cancel') {
        this.commit();
      }
    }
    return lines;
  }
}
