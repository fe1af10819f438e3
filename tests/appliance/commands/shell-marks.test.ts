// The shell-integration marks (OSC 133 / 633) read from a target's output stream: complete marks with either
// terminator, any split between chunks, garbage around and inside them, and a hostile stream that never ends
// a sequence (the scanner's state stays a few dozen characters). Then which command a reported status
// belongs to (ExitStatusTracker), on streams shaped like bash's.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ExitStatusTracker, MAX_MARK_BODY, ShellMarkScanner, parseMark, type ShellMark } from '../../../appliance/commands/index.js';

function marks(chunks: (string | Buffer)[], scanner = new ShellMarkScanner()): ShellMark[] {
  const out: ShellMark[] = [];
  for (const c of chunks) scanner.scan(typeof c === 'string' ? Buffer.from(c, 'latin1') : c, (m) => out.push(m));
  return out;
}

const BEL = '\x07';
const ST = '\x1b\\';

describe('ShellMarkScanner', () => {
  test('reads A, B, C and D with its status, ended by BEL or by ESC \\, among ordinary output', () => {
    const stream = `\x1b]133;D;0${BEL}\x1b]133;A${ST}user@db01:~$ \x1b]133;B${BEL}ls\r\n\x1b]133;C${ST}a  b\r\n\x1b[01;34mdir\x1b[0m\r\n\x1b]133;D;2${ST}`;
    assert.deepEqual(marks([stream]), [{ kind: 'D', status: 0 }, { kind: 'A' }, { kind: 'B' }, { kind: 'C' }, { kind: 'D', status: 2 }]);
  });

  test("VS Code's 633 marks count the same; its other letters, titles and hyperlinks are passed over", () => {
    const stream = `\x1b]0;user@db01: ~${BEL}\x1b]633;P;Cwd=/home/u${BEL}\x1b]633;E;ls -l;nonce${BEL}\x1b]633;D;130${BEL}\x1b]8;;http://127.0.0.1/${ST}link\x1b]8;;${ST}\x1b]633;A${BEL}`;
    assert.deepEqual(marks([stream]), [{ kind: 'D', status: 130 }, { kind: 'A' }]);
  });

  test('a D with extra fields keeps its status; without one, or with a malformed or oversized one, the status is unknown', () => {
    assert.deepEqual(parseMark('133;D;1;aid=42'), { kind: 'D', status: 1 });
    assert.deepEqual(parseMark('133;D'), { kind: 'D', status: null });
    assert.deepEqual(parseMark('133;D;'), { kind: 'D', status: null });
    assert.deepEqual(parseMark('133;D;x1'), { kind: 'D', status: null });
    assert.deepEqual(parseMark('133;D;99999999999'), { kind: 'D', status: null });
    assert.deepEqual(parseMark('133;D;2147483648'), { kind: 'D', status: null }, 'beyond a 32-bit column');
    assert.deepEqual(parseMark('133;D;-1'), { kind: 'D', status: -1 });
    assert.equal(parseMark('133;DX;1'), null);
    assert.equal(parseMark('133;E'), null);
    assert.equal(parseMark('134;D;1'), null);
    assert.equal(parseMark('1133;D;1'), null);
  });

  test('every split of the stream between two chunks, and one byte at a time, gives the same marks', () => {
    const stream = `x\x1b]133;D;7${BEL}\x1b]133;A${ST}$ \x1b]633;B${ST}y\x1b]133;D;12;aid=9${ST}z`;
    const whole = marks([stream]);
    assert.equal(whole.length, 4);
    for (let i = 0; i <= stream.length; i++) assert.deepEqual(marks([stream.slice(0, i), stream.slice(i)]), whole, `split at ${i}`);
    assert.deepEqual(marks([...stream]), whole);
  });

  test('an ESC inside a mark cancels it (as xterm reads it) and may itself begin the next one', () => {
    assert.deepEqual(marks([`\x1b]133;D;1\x1b[0m\x1b]133;D;3${BEL}`]), [{ kind: 'D', status: 3 }]);
    assert.deepEqual(marks([`\x1b]133;D;1\x1b]133;D;4${BEL}`]), [{ kind: 'D', status: 4 }]);
    assert.deepEqual(marks([`\x1b]133;D;1\n\x1b]133;A${BEL}`]), [{ kind: 'A' }], 'a control character ends a mark unread');
    assert.deepEqual(marks([`\x1b\x1b]133;C${BEL}`, `\x1b`, `]133;B${BEL}`]), [{ kind: 'C' }, { kind: 'B' }]);
  });

  test('a hostile stream that opens a mark and never ends it holds a bounded state, and the next mark is still read', () => {
    const s = new ShellMarkScanner();
    const seen: ShellMark[] = [];
    s.scan(Buffer.from('\x1b]133;D;'), (m) => seen.push(m));
    for (let i = 0; i < 64; i++) {
      s.scan(Buffer.alloc(16 * 1024, 0x35), (m) => seen.push(m)); // '5' for ever: 1 MiB of digits
      assert.ok(s.heldChars <= MAX_MARK_BODY, `held ${s.heldChars}`);
    }
    s.scan(Buffer.from(`${BEL}\x1b]133;D;6${BEL}`), (m) => seen.push(m));
    assert.deepEqual(seen, [{ kind: 'D', status: 6 }], 'the overlong one is dropped, the next one read');
  });

  test('random bytes, and random bytes spliced into marks, never throw, never hold more than a mark, and split the same way', () => {
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 8; k++) {
        parts.push(randomBytes(Math.floor(Math.random() * 64)));
        if (Math.random() < 0.5) parts.push(Buffer.from(`\x1b]133;${'ABCD'[k % 4]}${k % 4 === 3 ? ';' + k : ''}${Math.random() < 0.5 ? BEL : ST}`));
        if (Math.random() < 0.2) parts.push(Buffer.from('\x1b]133;'));
        if (Math.random() < 0.2) parts.push(Buffer.from([0x1b]));
      }
      const all = Buffer.concat(parts);
      const whole = marks([all]);
      const scanner = new ShellMarkScanner();
      const split: ShellMark[] = [];
      for (let i = 0; i < all.length; ) {
        const n = 1 + Math.floor(Math.random() * 20);
        scanner.scan(all.subarray(i, i + n), (m) => split.push(m));
        assert.ok(scanner.heldChars <= MAX_MARK_BODY);
        i += n;
      }
      assert.deepEqual(split, whole, all.toString('hex'));
      assert.deepEqual(marks([all], new ShellMarkScanner({ shortcut: false })), whole);
    }
  });

  test('a chunk in which no mark can end is only read at its end, with the same result as reading it whole', () => {
    // Garbage without BEL or backslash (so no mark ends in it), with ESC ] and mark beginnings of every length
    // scattered in it, cut at random points: the marks that end in a later chunk are the same either way.
    const noTerminator = (n: number) => Buffer.from(Array.from(randomBytes(n), (b) => (b === 0x07 || b === 0x5c ? 0x41 : b)));
    for (let round = 0; round < 300; round++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 6; k++) {
        parts.push(noTerminator(Math.floor(Math.random() * 300)));
        const body = `133;D;${k}` + 'x'.repeat(Math.random() < 0.5 ? 0 : Math.floor(Math.random() * 70));
        parts.push(Buffer.from(`\x1b]${body.slice(0, Math.floor(Math.random() * (body.length + 1)))}`));
        if (Math.random() < 0.5) parts.push(noTerminator(Math.floor(Math.random() * 80)));
        if (Math.random() < 0.3) parts.push(Buffer.from(`\x1b]133;D;${k}`), noTerminator(Math.floor(Math.random() * 70)));
        parts.push(Buffer.from(Math.random() < 0.5 ? BEL : ST));
      }
      const all = Buffer.concat(parts);
      const reference = marks([all], new ShellMarkScanner({ shortcut: false }));
      const cuts = [0, ...Array.from({ length: 4 }, () => Math.floor(Math.random() * all.length)), all.length].sort((x, y) => x - y);
      const fast = marks(cuts.slice(1).map((end, j) => all.subarray(cuts[j], end)));
      assert.deepEqual(fast, reference, all.toString('hex'));
    }
  });
});

/** A tracker fed a scripted exchange: output strings, lines entered, the channel's end. */
function track(): { t: ExitStatusTracker<string>; statuses: [string, number][]; out: (s: string) => void; enter: (line: string, reported?: boolean) => void } {
  const statuses: [string, number][] = [];
  const t = new ExitStatusTracker<string>((c, s) => statuses.push([c, s]));
  return {
    t,
    statuses,
    out: (s) => t.output(Buffer.from(s, 'latin1')),
    enter: (line, reported = true) => t.submitted(reported && line !== '' ? line : null, line),
  };
}
/** What bash prints around a prompt with the README's PROMPT_COMMAND (D, then A), given the last status. */
const prompt = (status: number) => `\x1b]133;D;${status}${BEL}\x1b]133;A${BEL}u@db01:~$ `;

describe('ExitStatusTracker', () => {
  test('each line entered at the prompt gets the status the next D reports', () => {
    const { out, enter, statuses } = track();
    out(prompt(0));
    for (const [line, status] of [['true', 0], ['false', 1], ['(exit 7)', 7]] as const) {
      out(line);
      enter(line);
      out('\r\n');
      out(prompt(status));
    }
    assert.deepEqual(statuses, [['true', 0], ['false', 1], ['(exit 7)', 7]]);
  });

  test('no marks, no statuses: the status stays unknown', () => {
    const { out, enter, t, statuses } = track();
    out('u@db01:~$ ');
    enter('false');
    out('\r\nu@db01:~$ ');
    enter('true');
    t.ended(0);
    assert.deepEqual(statuses, []);
  });

  test('an empty Enter, a cancelled line and a line typed into a running program get nothing; the program gets its own', () => {
    const { out, enter, statuses } = track();
    out(prompt(0));
    enter('');
    out('\r\n' + prompt(0)); // bash reports the previous status again for an empty line
    out('^C\r\n' + prompt(130)); // Ctrl-C at the prompt: no line was entered
    enter('cat');
    out('\r\n\x1b]133;C\x07');
    enter('hello'); // read by cat, not by the shell
    out('hello\r\nhello\r\n');
    out(prompt(0));
    assert.deepEqual(statuses, [['cat', 0]]);
  });

  test('a line typed ahead while a command runs is not given the running command\'s status', () => {
    const { out, enter, statuses } = track();
    out(prompt(0));
    enter('sleep 1');
    enter('false'); // typed during the sleep: the shell reads it later
    out('\r\n' + prompt(0));
    out('false\r\n' + prompt(1));
    assert.deepEqual(statuses, [['sleep 1', 0]]);
  });

  test('a prompt drawn without a D leaves the line before it unknown', () => {
    const { out, enter, statuses } = track();
    out(prompt(0));
    enter('exec zsh');
    out('\x1b]133;A\x07% ');
    out('\x1b]133;D;0\x07');
    assert.deepEqual(statuses, []);
  });

  test('`exit N` as the last line, and the channel ending with N: that line gets N; otherwise nothing', () => {
    {
      const { out, enter, t, statuses } = track();
      out('$ ');
      enter('exit 3');
      t.ended(3);
      assert.deepEqual(statuses, [['exit 3', 3]]);
    }
    {
      const { out, enter, t, statuses } = track();
      out(prompt(0));
      enter('exit 300');
      t.ended(44);
      assert.deepEqual(statuses, [['exit 300', 44]], 'with marks too: the shell gives no D for its own exit');
    }
    for (const [line, code] of [['exit 3', 4], ['exit', 0], ['false', 1], ['echo exit 3', 3]] as const) {
      const { out, enter, t, statuses } = track();
      out('$ ');
      enter(line);
      t.ended(code);
      assert.deepEqual(statuses, [], `${line} → ${code}`);
    }
    {
      const { out, enter, t, statuses } = track();
      out('$ ');
      enter('exit 3');
      t.ended(null);
      assert.deepEqual(statuses, [], 'no exit status from the target');
    }
  });
});
