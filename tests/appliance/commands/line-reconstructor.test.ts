// The line reconstructor against a real bash with readline in a pty: keys go to bash, bash's output and the
// keys go to the reconstructor, and what it rebuilt must be what bash ran (bash's own history, written after
// every command).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LineReconstructor, TerminalScreen } from '../../../appliance/commands/index.js';
import { PtyBash } from '../../helpers/pty-bash.js';

const UP = '\x1b[A';
const LEFT = '\x1b[D';

/** Type each chunk, letting bash echo it, and return the lines the reconstructor saw entered. */
async function drive(bash: PtyBash, lines: LineReconstructor, chunks: string[]): Promise<string[]> {
  const entered: string[] = [];
  for (const chunk of chunks) {
    entered.push(...lines.input(Buffer.from(chunk, 'latin1')));
    const before = bash.printed.length;
    bash.write(chunk);
    // Every key here makes bash print something (echo, redraw, a prompt): wait for it to start before waiting
    // for quiet, or on a loaded machine the next key is judged against a screen bash has not drawn yet.
    await bash.waitFor(/[\s\S]/, before, 3000).catch(() => {});
    await bash.settle(chunk.includes('\r') ? 120 : 60);
  }
  return entered;
}

async function withBash(columns: number, fn: (bash: PtyBash, lines: LineReconstructor) => Promise<void>): Promise<void> {
  const bash = new PtyBash({ columns });
  const lines = new LineReconstructor(columns, 24);
  bash.onOutput((b) => lines.output(b));
  try {
    await bash.waitFor(/W\$ /);
    await bash.settle();
    await fn(bash, lines);
  } finally {
    await bash.close();
  }
}

test('the reconstructed lines are the commands bash ran: typing, editing keys, history, completion, search', async () => {
  await withBash(80, async (bash, lines) => {
    writeFileSync(path.join(bash.dir, 'uniquefilename.txt'), 'x\n');
    const entered = await drive(bash, lines, [
      'echo hello', '\r',
      'echo hellx', '\x7f', 'o world', '\r',                  // backspace (DEL)
      'rm -rf /nothing', '\x15', 'echo after-ctrl-u', '\r',   // Ctrl-U
      'echo one two', '\x17', '\x17', 'three', '\r',          // Ctrl-W twice
      'cho abc', '\x01', 'e', '\x05', ' def', '\r',           // Ctrl-A, Ctrl-E
      'echo abd', LEFT, 'c', '\r',                             // cursor left, insert
      UP, UP, '\r',                                            // history recall: the echo alone says what it is
      'cat uniq', '\t', '\r',                                  // tab completion
      'echo cancelled', '\x03', 'echo next', '\r',             // Ctrl-C drops the line
      '\x12uniq', '\r',                                        // reverse search
      'echo before-clear', '\x0c', ' after', '\r',             // Ctrl-L redraws at the top
    ]);
    const ran = bash.history().map((l) => l.trim());
    assert.deepEqual(entered, ran);
    assert.deepEqual(ran, [
      'echo hello',
      'echo hello world',
      'echo after-ctrl-u',
      'echo three',
      'echo abc def',
      'echo abcd',
      'echo abc def',
      'cat uniquefilename.txt',
      'echo next',
      'cat uniquefilename.txt',
      'echo before-clear after',
    ]);
  });
});

test('a line longer than the terminal is wide is read across its wrapped rows, also when recalled', async () => {
  await withBash(40, async (bash, lines) => {
    const long = 'echo ' + 'abcdefghij'.repeat(9) + ' end';
    const entered = await drive(bash, lines, [long, '\r', 'echo short', '\r', UP, UP, '\r', 'echo x', LEFT.repeat(3), 'yz', '\r']);
    const ran = bash.history().map((l) => l.trim());
    assert.deepEqual(entered, ran);
    assert.deepEqual(ran, [long, 'echo short', long, 'echyzo x']);
  });
});

test('a bracketed multi-line paste is one line of several commands, entered by the one Enter', async () => {
  await withBash(80, async (bash, lines) => {
    const entered = await drive(bash, lines, ['\x1b[200~echo p1\necho p2\x1b[201~', '\r', 'echo after', '\r']);
    await bash.settle();
    assert.deepEqual(entered, ['echo p1\necho p2', 'echo after']);
    assert.match(bash.printed, /\rp1\r\np2\r\n/); // both ran
  });
});

test('the screen model follows readline redraws: CR, BS, erase, insert and delete characters', () => {
  const s = new TerminalScreen(20, 5);
  s.write('$ echo abc\b\b\x1b[Kxy\r$ ');
  assert.equal(s.rowText(0), '$ echo axy');
  s.write('\x1b[5C\x1b[2Pz\x1b[2@');
  assert.equal(s.rowText(0), '$ echo z');
  s.write('\r\x1b[4C\x1b[1@Q');
  assert.equal(s.rowText(0), '$ ecQho z');
  // deferred wrap: the 20th column is written, the 21st character starts the next row
  s.write('\r\n' + 'x'.repeat(21));
  assert.equal(s.rowText(1), 'x'.repeat(20));
  assert.equal(s.rowIsFull(1), true);
  assert.equal(s.rowText(2), 'x');
});
