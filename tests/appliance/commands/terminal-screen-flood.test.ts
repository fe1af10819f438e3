// The screen model under a flood of output: rows that scroll far above the cursor are followed, not written
// (recording-path performance), and what stays near the cursor must be exactly what the model builds when it
// writes every row. A cursor-up after the flood must find its rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineReconstructor, TerminalScreen } from '../../../appliance/commands/index.js';

/** The same text through the model with nothing skipped. */
function reference(text: string | string[], cols: number, rows: number): TerminalScreen {
  const s = new TerminalScreen(cols, rows, { skipScrolled: false });
  for (const part of typeof text === 'string' ? [text] : text) s.write(Buffer.from(part, 'latin1'));
  return s;
}

function near(s: TerminalScreen): { row: number; col: number; text: string[] } {
  const text: string[] = [];
  for (let r = Math.max(0, s.row - 100); r <= s.row + 5; r++) text.push(s.rowText(r));
  return { row: s.row, col: s.col, text };
}

function flood(lines: number, width: number): string {
  let out = '';
  for (let n = 0; n < lines; n++) {
    const long = n % 11 === 0 ? ' ' + 'w'.repeat(width + 7) : ''; // wraps onto the next row
    out += n % 7 === 0 ? `\x1b[01;34mdir-${n}\x1b[0m\r\n` : `-rw-r--r-- 1 user group ${n} file-${n}.log${long}\r\n`;
  }
  return out;
}

test('a flood written at once leaves the same screen near the cursor as one with every row written', () => {
  for (const [cols, rows] of [
    [80, 24],
    [33, 10],
  ] as const) {
    const text = flood(700, cols) + '\x1b]0;user@host: ~\x07user@host:~$ ';
    const fast = new TerminalScreen(cols, rows);
    fast.write(text);
    assert.deepEqual(near(fast), near(reference(text, cols, rows)));
    // the flood's rows are not kept (bounded model), the prompt's row is
    assert.ok(fast.heldRows <= 200);
    assert.equal(fast.rowText(fast.row), 'user@host:~$');
  }
});

test('a cursor-up or an absolute position after a flood reaches rows that were written', () => {
  for (const tail of ['\x1b[90A\rX', '\x1b[1;1HY', '\x1bM\x1bM\rZ', '\x1b[99F\x1b[2Ptail']) {
    const text = flood(400, 80) + tail;
    const fast = new TerminalScreen(80, 24);
    fast.write(text);
    assert.deepEqual(near(fast), near(reference(text, 80, 24)), JSON.stringify(tail));
  }
});

test('a flood split across writes (a sequence cut between two chunks) matches too', () => {
  const text = flood(900, 80) + 'prompt$ ';
  const fast = new TerminalScreen(80, 24);
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 4093) parts.push(text.slice(i, i + 4093));
  for (const part of parts) fast.write(Buffer.from(part, 'latin1'));
  assert.deepEqual(near(fast), near(reference(parts, 80, 24)));
});

test('the line reconstructor holds a flood back while no line is edited, and still reads the next line exactly', () => {
  const text = flood(12000, 80) + '\x1b]0;user@host: ~\x07\x1b[01;32muser@host\x1b[0m:~$ ';
  const lines = new LineReconstructor(80, 24);
  const buf = Buffer.from(text, 'latin1');
  for (let i = 0; i < buf.length; i += 32 * 1024) lines.output(buf.subarray(i, i + 32 * 1024));
  const ref = reference(text, 80, 24);
  const screen = lines.screen;
  const { text: got, col } = near(screen);
  assert.deepEqual({ text: got, col }, { text: near(ref).text, col: near(ref).col });
  assert.ok(screen.heldRows <= 200);
  for (const b of Buffer.from('rm -rf /tmp/x')) {
    lines.inputByte(b);
    lines.output(Buffer.from([b]));
  }
  assert.equal(lines.inputByte(0x0d), 'enter');
  assert.equal(lines.currentLine(), 'rm -rf /tmp/x');
});

test('a flood with a cursor-up in it is drawn in full: the rows it returns to are there', () => {
  const text = flood(7000, 80) + '\x1b[105A\rover';
  assert.ok(text.length > 256 * 1024, 'more than is held back at once');
  const lines = new LineReconstructor(80, 24);
  lines.output(text);
  const ref = reference(text, 80, 24);
  const { text: got, col } = near(lines.screen);
  assert.deepEqual({ text: got, col }, { text: near(ref).text, col: near(ref).col });
  assert.match(got.at(-6) ?? '', /^over/);
});
