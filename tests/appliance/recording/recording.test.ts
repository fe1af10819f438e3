// The recording file: what is written reads back in order with its times; an idle terminal writes nothing;
// suppressed input never reaches the file; any tampering fails verification while a cut tail (a writer
// killed by SIGKILL) verifies up to its last complete chunk; asciicast export is accepted by asciinema.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, statSync, truncateSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecordingWriter, openRecording, verifyRecording, asciicastLines, type RecordingEvent } from '../../../appliance/recording/index.js';
import { ManualClock, tempDir } from '../../helpers/fixtures.js';
import { testToken, type TestToken } from '../../helpers/token.js';
import { chunkOffsets, readAll } from '../../helpers/recording-files.js';

const meta = { protocol: 'ssh', cols: 80, rows: 24, term: 'xterm-256color' };

describe('recording file', () => {
  let token: TestToken;
  const tmp = tempDir('warden-rec-');
  let n = 0;
  const sid = () => `s-${++n}`;

  before(() => {
    token = testToken();
  });
  after(() => {
    token.cleanup();
    tmp.cleanup();
  });

  /** A recording of a few chunks written under a manual clock. */
  async function sample(sessionId = sid()): Promise<{ file: string; clock: ManualClock }> {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId, clock: clock.read, meta });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      w.output(Buffer.from(`chunk ${i}\r\n`));
      await w.flush();
    }
    const s = await w.close();
    assert.equal(s.chunks, 6);
    return { file: s.path, clock };
  }

  test('streams read back in order with their times, and the verdict says complete', async () => {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), clock: clock.read, meta });
    clock.advance(250);
    w.output(Buffer.from('$ '));
    clock.advance(1200);
    w.input(Buffer.from('l'));
    w.input(Buffer.from('s\r'));
    clock.advance(5);
    w.resize(132, 50);
    w.event('file', { path: '/etc/hosts', size: 12, direction: 'download' });
    await w.flush();
    clock.advance(70_000);
    w.output(Buffer.from('bye\r\n'));
    const s = await w.close();
    assert.equal(s.chunks, 2);
    assert.equal(statSync(s.path).mode & 0o777, 0o600);
    const rec = await openRecording(s.path, token.keys);
    assert.equal(rec.header.sessionId, `s-${n}`);
    assert.equal(rec.header.cols, 80);
    const events: RecordingEvent[] = [];
    for await (const e of rec.events()) events.push(e);
    const simple = events.map((e) => ('data' in e && Buffer.isBuffer(e.data) ? { ...e, data: e.data.toString() } : e));
    assert.deepEqual(simple, [
      { at: 250, type: 'output', data: '$ ' },
      { at: 1450, type: 'input', data: 'l' },
      { at: 1450, type: 'input', data: 's\r' },
      { at: 1455, type: 'resize', cols: 132, rows: 50 },
      { at: 1455, type: 'event', kind: 'file', data: { path: '/etc/hosts', size: 12, direction: 'download' } },
      { at: 71_455, type: 'output', data: 'bye\r\n' },
      { at: 71_455, type: 'end' },
    ]);
    assert.deepEqual({ ok: rec.verdict?.ok, complete: rec.verdict?.complete, chunks: rec.verdict?.chunks }, { ok: true, complete: true, chunks: 2 });
    await assert.rejects(RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: `s-${n}`, meta }), (e: Error & { code?: string }) => e.code === 'RECORDING_FAILED', 'an existing recording is never replaced');
  });

  test('an idle terminal costs nothing on disk; a keystroke a few dozen bytes', async () => {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), clock: clock.read, meta });
    const start = w.bytes;
    for (let s = 0; s < 60; s++) {
      clock.advance(1000);
      await w.flush();
    }
    assert.equal(w.bytes, start, 'sixty idle seconds write no byte');
    clock.advance(1000);
    w.input(Buffer.from('x'));
    w.output(Buffer.from('x'));
    await w.flush();
    assert.ok(w.bytes - start <= 40, `a keystroke and its echo cost ${w.bytes - start} bytes`);
    await w.close();
  });

  test('with nobody calling flush, buffered data is sealed flushMs after it arrived (a crash loses at most that)', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), meta, flushMs: 30 });
    w.output(Buffer.from('typed'));
    assert.equal(w.chunks, 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.chunks, 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.chunks, 1, 'no chunk without data');
    await w.close();
  });

  test('output larger than a chunk is split, and comes back byte for byte', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), meta, chunkBytes: 4096 });
    const big = Buffer.alloc(100_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    w.output(big);
    const s = await w.close();
    assert.ok(s.chunks > 20);
    const events = await readAll(s.path, token.keys);
    const out = Buffer.concat(events.flatMap((e) => (e.type === 'output' ? [e.data] : [])));
    assert.ok(out.equals(big));
  });

  test('input typed while suppressed never reaches the file; the gap is marked', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), meta });
    w.output(Buffer.from('Password: '));
    w.suppressInput(true);
    w.input(Buffer.from('hunter2-secret\r'));
    w.suppressInput(false);
    w.input(Buffer.from('whoami\r'));
    const s = await w.close();
    const events = await readAll(s.path, token.keys);
    const inputs = events.flatMap((e) => (e.type === 'input' ? [e.data.toString()] : []));
    assert.deepEqual(inputs, ['whoami\r']);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'event' ? [e.data] : [])),
      [{ on: true }, { on: false }],
    );
  });

  test('a flipped byte, a removed or reordered chunk, or another header fails verification', async () => {
    const { file } = await sample();
    assert.equal((await verifyRecording(file, token.keys)).ok, true);
    const original = readFileSync(file);
    const chunks = chunkOffsets(file);
    const cases: [string, Buffer][] = [];
    const flipped = Buffer.from(original);
    flipped[chunks[2]![0] + 10]! ^= 1;
    cases.push(['flipped byte', flipped]);
    cases.push(['removed chunk', Buffer.concat([original.subarray(0, chunks[1]![0]), original.subarray(chunks[2]![0])])]);
    cases.push(['reordered chunks', Buffer.concat([original.subarray(0, chunks[1]![0]), original.subarray(...chunks[2]!), original.subarray(...chunks[1]!), original.subarray(chunks[3]![0])])]);
    // The same data key, another session id in the header: the first chunk no longer chains to it.
    const other = Buffer.from(original.toString('latin1').replace(/"sessionId":"s-(\d+)"/, (_m, d: string) => `"sessionId":"s-${String(Number(d) + 1).padStart(d.length, '0').slice(-d.length)}"`), 'latin1');
    assert.notDeepEqual(other, original);
    cases.push(['header of another session', other]);
    cases.push(['data after the end', Buffer.concat([original, original.subarray(...chunks[1]!)])]);
    for (const [name, bytes] of cases) {
      writeFileSync(file, bytes);
      const v = await verifyRecording(file, token.keys);
      assert.equal(v.ok, false, `${name} must fail verification`);
      assert.ok(v.problem, name);
    }
    // A whole header from another recording (its own data key) does not open these chunks either.
    const { file: file2 } = await sample();
    const h2 = readFileSync(file2).subarray(0, chunkOffsets(file2)[0]![0]);
    writeFileSync(file, Buffer.concat([h2, original.subarray(chunks[0]![0])]));
    assert.equal((await verifyRecording(file, token.keys)).ok, false, 'swapped header');
  });

  test('a tail cut mid-chunk or at a chunk boundary is "truncated", not a failure', async () => {
    const { file } = await sample();
    const chunks = chunkOffsets(file);
    truncateSync(file, chunks[3]![0] + 9);
    const v = await verifyRecording(file, token.keys);
    assert.deepEqual({ ok: v.ok, complete: v.complete, chunks: v.chunks, trailingBytes: v.trailingBytes, until: v.verifiedUntilMs }, { ok: true, complete: false, chunks: 3, trailingBytes: 9, until: 3000 });
    assert.match(v.problem!, /^truncated after 3 chunks, verified up to 3\.000 s/);
    truncateSync(file, chunks[2]![0]);
    const v2 = await verifyRecording(file, token.keys);
    assert.deepEqual({ ok: v2.ok, complete: v2.complete, chunks: v2.chunks }, { ok: true, complete: false, chunks: 2 });
  });

  test('a writer killed by SIGKILL leaves a recording that verifies up to its last complete chunk', async () => {
    const child = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/recording-writer-child.js'), JSON.stringify(token.options), tmp.dir, 'killed-1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: string) => {
        for (const m of d.matchAll(/chunks (\d+)/g)) reported = Number(m[1]);
        if (reported >= 5) resolve();
      });
      child.on('exit', () => reject(new Error('the child ended before it was killed')));
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const file = path.join(tmp.dir, 'killed-1.wrec');
    const v = await verifyRecording(file, token.keys);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.complete, false);
    assert.ok(v.chunks >= reported, `${v.chunks} chunks verified, ${reported} reported written`);
    assert.match(v.problem!, /^truncated after \d+ chunks, verified up to /);
    // What verified is exactly the start of what the child wrote.
    const text = (await readAll(file, token.keys)).flatMap((e) => (e.type === 'output' ? [e.data.toString()] : [])).join('');
    const lines = text.split('\n').slice(0, -1);
    assert.ok(lines.length > 5);
    lines.forEach((l, i) => assert.equal(l, `line ${i}`));
  });

  test('backpressure: appends return false above the high-water mark, and drain follows', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), meta, chunkBytes: 1024, highWaterMark: 8 * 1024 });
    let accepted = true;
    let i = 0;
    for (; i < 1000 && accepted; i++) accepted = w.output(Buffer.alloc(512, 0x41));
    assert.equal(accepted, false, 'the writer asked for a pause');
    assert.ok(w.pending >= 8 * 1024);
    await new Promise<void>((resolve) => w.onDrain(resolve));
    assert.ok(w.pending < 8 * 1024);
    await w.close();
  });

  test('asciicast export: asciinema cat gives back the exact output, and asciinema play accepts it', async () => {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), clock: clock.read, meta });
    const parts = [Buffer.from('\x1b[1;32muser@db01\x1b[0m:~$ '), Buffer.from('ls -l\r\n'), Buffer.from('caf\xc3', 'latin1'), Buffer.from('\xa9 \xe2\x82', 'latin1'), Buffer.concat([Buffer.from([0xac]), Buffer.from(' \u65e5\u672c\r\n')]), Buffer.from('"quoted" \\ tab\t\r\n')];
    for (const p of parts) {
      clock.advance(40);
      w.output(p);
      w.input(Buffer.from('k'));
    }
    w.resize(100, 30);
    w.event('marker', { label: 'here' });
    const s = await w.close();
    const file = path.join(tmp.dir, 'export.cast');
    const rec = await openRecording(s.path, token.keys);
    const lines: string[] = [];
    for await (const l of asciicastLines(rec, { input: true })) lines.push(l);
    writeFileSync(file, lines.join(''));
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(header, { version: 2, width: 80, height: 24, timestamp: Math.floor(rec.header.startedAt / 1000), env: { TERM: 'xterm-256color' } });
    assert.ok(lines.some((l) => l.includes('"r","100x30"')));
    assert.ok(lines.some((l) => l.includes('"i","k"')));
    // asciinema opens /dev/tty even to cat: script(1) gives it a terminal, and the output goes to a file so
    // that the terminal's own newline translation does not touch it.
    const catOut = path.join(tmp.dir, 'export.out');
    execFileSync('script', ['-qec', `asciinema cat ${file} > ${catOut}`, '/dev/null'], { timeout: 20_000, stdio: ['ignore', 'ignore', 'inherit'] });
    const cat = readFileSync(catOut);
    assert.ok(cat.equals(Buffer.concat(parts)), `asciinema cat: ${JSON.stringify(cat.toString())}`);
    const played = execFileSync('script', ['-qec', `asciinema play -s 1000 ${file}`, '/dev/null'], { timeout: 20_000 });
    assert.ok(played.includes(Buffer.from('user@db01')));
  });
});

describe('recording file under random damage', () => {
  let token: TestToken;
  const tmp = tempDir('warden-rec-fuzz-');
  before(() => {
    token = testToken();
  });
  after(() => {
    token.cleanup();
    tmp.cleanup();
  });

  test('nothing typed or shown is in the file in clear; no mutation makes it verify with other content', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: 'fuzz-1', meta, chunkBytes: 256 });
    const lines = Array.from({ length: 40 }, (_, i) => `PLAINTEXT-MARKER ${i} ${'x'.repeat(i)}\r\n`);
    for (const l of lines) {
      w.output(Buffer.from(l));
      w.input(Buffer.from(l));
    }
    const s = await w.close();
    const original = readFileSync(s.path);
    assert.equal(original.includes(Buffer.from('PLAINTEXT-MARKER')), false);
    const expected = lines.join('');
    // Deterministic pseudo-random mutations: flipped bits, cut tails, spliced and duplicated ranges.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const file = path.join(tmp.dir, 'fuzz-1.wrec');
    for (let i = 0; i < 300; i++) {
      let m = Buffer.from(original);
      const kind = i % 4;
      if (kind === 0) m[rand(m.length)]! ^= 1 << rand(8);
      else if (kind === 1) m = m.subarray(0, rand(m.length));
      else if (kind === 2) {
        const a = rand(m.length);
        const b = a + rand(m.length - a);
        m = Buffer.concat([m.subarray(0, a), m.subarray(b)]);
      } else {
        const a = rand(m.length);
        const b = a + rand(Math.min(200, m.length - a));
        m = Buffer.concat([m.subarray(0, b), m.subarray(a, b), m.subarray(b)]);
      }
      if (m.equals(original)) continue;
      writeFileSync(file, m);
      let rec;
      try {
        rec = await openRecording(file, token.keys);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'RECORDING_UNREADABLE', `case ${i}: ${(e as Error).message}`);
        continue;
      }
      let out = '';
      for await (const e of rec.events()) if (e.type === 'output') out += e.data.toString();
      const v = rec.verdict!;
      assert.ok(expected.startsWith(out), `case ${i}: what verified is a prefix of what was written`);
      assert.ok(!(v.ok && v.complete), `case ${i}: a damaged file never verifies complete`);
    }
  });
});
