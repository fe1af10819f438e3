// Compressed recordings (RDP): each chunk's records are deflated before they are sealed. What goes in reads
// back; a tampered chunk fails like any other; a chunk that inflates past the bound or is no DEFLATE stream is
// refused with a clear problem; a killed writer leaves a file that verifies up to its last complete chunk; a
// recording without the option (SSH) has no compression field and is stored as before.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, createCipheriv } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecordingWriter, verifyRecording, readRecordingHeader } from '../../../appliance/recording/index.js';
import { MAX_CHUNK_PLAINTEXT, RecordType, chunkAad, encodeHeader, headerLink, nonce, writeVarint, type RecordingHeader } from '../../../appliance/recording/format.js';
import { ManualClock, tempDir } from '../../helpers/fixtures.js';
import { testToken, type TestToken } from '../../helpers/token.js';
import { chunkOffsets, readAll } from '../../helpers/recording-files.js';

const rdpMeta = { protocol: 'rdp', cols: 1024, rows: 768, term: 'rdp' };

/** A frame like the proxy sees with bulk compression off: runs of similar pixels, a little noise. */
function frame(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  for (let j = 0; j < size; j += 97) b[j] = (j * 31 + i) & 0xff;
  return b;
}

describe('compressed recording', () => {
  let token: TestToken;
  const tmp = tempDir('warden-reccomp-');
  let n = 0;
  const sid = () => `c-${++n}`;

  before(() => {
    token = testToken();
  });
  after(() => {
    token.cleanup();
    tmp.cleanup();
  });

  /**
   * A file sealed by hand, as a writer holding the key could: a header saying deflate-raw and one chunk whose
   * plaintext (before deflate, as the writer would stage it) is `stored` as given.
   */
  async function crafted(sessionId: string, stored: Buffer): Promise<string> {
    const key = randomBytes(32);
    const wrapped = await token.keys.wrapDataKey(key);
    const header: RecordingHeader = { version: 1, sessionId, startedAt: Date.now(), ...rdpMeta, wrappedKey: wrapped.toString('base64'), compression: 'deflate-raw' };
    const headerBytes = encodeHeader(header);
    const cipher = createCipheriv('aes-256-gcm', key, nonce(0));
    cipher.setAAD(chunkAad(0, headerLink(headerBytes)));
    const body = Buffer.concat([cipher.update(stored), cipher.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const file = path.join(tmp.dir, `${sessionId}.wrec`);
    writeFileSync(file, Buffer.concat([headerBytes, len, body, cipher.getAuthTag()]));
    return file;
  }

  test('records out equal records in, the header says deflate-raw, and the file is smaller than its data', async () => {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), clock: clock.read, meta: rdpMeta, compression: 'deflate-raw' });
    const sent: Buffer[] = [];
    let total = 0;
    for (let i = 0; i < 200; i++) {
      clock.advance(7);
      const f = frame(i, 4000 + (i % 13) * 1000);
      sent.push(f);
      total += f.length;
      w.output(f);
      if (i % 50 === 0) w.input(Buffer.from([0x44, i & 0xff]));
      if (i === 120) w.event('marker', { label: 'here' });
    }
    // A flood of incompressible data too: chunks grow to 1 MiB, and their DEFLATE is a little longer.
    const noise = randomBytes(3 * 1024 * 1024);
    w.output(noise);
    const s = await w.close();
    assert.equal(s.bytes, statSync(s.path).size, 'the summary counts the bytes on disk');
    assert.ok(s.bytes < total / 3 + noise.length + 64 * 1024, `${s.bytes} bytes on disk for ${total} of frames and ${noise.length} of noise`);
    const { header } = await readRecordingHeader(s.path);
    assert.equal(header.compression, 'deflate-raw');
    const events = await readAll(s.path, token.keys);
    const out = Buffer.concat(events.flatMap((e) => (e.type === 'output' ? [e.data] : [])));
    assert.ok(out.equals(Buffer.concat([...sent, noise])), 'the output reads back byte for byte');
    assert.deepEqual(events.flatMap((e) => (e.type === 'input' ? [[...e.data]] : [])), [0, 50, 100, 150].map((i) => [0x44, i]));
    assert.deepEqual(events.flatMap((e) => (e.type === 'event' ? [e.data] : [])), [{ label: 'here' }]);
    assert.equal(events.at(-1)!.type, 'end');
    const v = await verifyRecording(s.path, token.keys);
    assert.deepEqual({ ok: v.ok, complete: v.complete, chunks: v.chunks }, { ok: true, complete: true, chunks: s.chunks });
  });

  test('a recording without the option has no compression field and stores its records as they are', async () => {
    const clock = new ManualClock();
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), clock: clock.read, meta: { protocol: 'ssh', cols: 80, rows: 24, term: 'xterm' } });
    const data = Buffer.alloc(5000, 0x41);
    w.output(data);
    await w.flush();
    const s = await w.close();
    const bytes = readFileSync(s.path);
    const { header, headerBytes } = await readRecordingHeader(s.path);
    assert.equal('compression' in header, false);
    assert.ok(!headerBytes.toString('latin1').includes('compression'));
    // The first chunk holds type, delta, length and the 5000 bytes: its stored length is the plaintext's.
    assert.equal(bytes.readUInt32BE(headerBytes.length), 1 + 1 + 2 + 5000);
    assert.ok((await readAll(s.path, token.keys)).some((e) => e.type === 'output' && e.data.equals(data)));
  });

  test('a flipped byte in a compressed chunk fails verification like any chunk', async () => {
    const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: sid(), meta: rdpMeta, compression: 'deflate-raw' });
    for (let i = 0; i < 4; i++) {
      w.output(frame(i, 20_000));
      await w.flush();
    }
    const s = await w.close();
    const original = readFileSync(s.path);
    const chunks = chunkOffsets(s.path);
    assert.equal(chunks.length, 5);
    const flipped = Buffer.from(original);
    flipped[chunks[2]![0] + 8]! ^= 1;
    writeFileSync(s.path, flipped);
    const v = await verifyRecording(s.path, token.keys);
    assert.equal(v.ok, false);
    assert.equal(v.chunks, 2);
    assert.match(v.problem!, /^chunk 2 fails authentication/);
  });

  test('an authentic chunk that inflates beyond the bound, or is no DEFLATE stream, is refused clearly', async () => {
    // Records a reader would accept, but 2 MiB of them once inflated: twice what any chunk may hold.
    const runOf = (records: number): Buffer => {
      const run = Buffer.alloc(records * 16_004);
      let pos = 0;
      for (let i = 0; i < records; i++) {
        run[pos++] = RecordType.Output;
        pos = writeVarint(run, pos, 0);
        pos = writeVarint(run, pos, 16_000);
        pos += 16_000;
      }
      assert.equal(pos, run.length);
      return run;
    };
    const bomb = deflateRawSync(runOf(131), { level: 9 });
    assert.ok(bomb.length < 8 * 1024, 'the crafted chunk is small on disk');
    const v = await verifyRecording(await crafted(sid(), bomb), token.keys);
    assert.equal(v.ok, false);
    assert.equal(v.events, 0);
    assert.equal(v.problem, `chunk 0 does not decompress: it inflates beyond ${MAX_CHUNK_PLAINTEXT} bytes`);

    // Within the bound it reads: the same construction at a quarter of the size.
    const small = deflateRawSync(runOf(16), { level: 9 });
    const ok = await verifyRecording(await crafted(sid(), small), token.keys);
    assert.equal(ok.ok, true, ok.problem);
    assert.ok(ok.events > 0);

    const garbage = await verifyRecording(await crafted(sid(), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00])), token.keys);
    assert.equal(garbage.ok, false);
    assert.match(garbage.problem!, /^chunk 0 does not decompress: /);
  });

  test('an unknown compression in the header is refused before any chunk is read', async () => {
    const file = await crafted(sid(), deflateRawSync(Buffer.from([RecordType.End, 0])));
    const bytes = readFileSync(file);
    writeFileSync(file, Buffer.from(bytes.toString('latin1').replace('"deflate-raw"', '"zstd-fast00"'), 'latin1'));
    await assert.rejects(verifyRecording(file, token.keys), (e: Error & { code?: string }) => e.code === 'RECORDING_UNREADABLE' && /unknown compression/.test(e.message));
  });

  test('a compressed writer killed by SIGKILL leaves a recording that verifies up to its last complete chunk', async () => {
    const child = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/recording-writer-child.js'), JSON.stringify(token.options), tmp.dir, 'killed-c', 'deflate-raw'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const file = path.join(tmp.dir, 'killed-c.wrec');
    assert.equal((await readRecordingHeader(file)).header.compression, 'deflate-raw');
    const v = await verifyRecording(file, token.keys);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.complete, false);
    assert.ok(v.chunks >= reported, `${v.chunks} chunks verified, ${reported} reported written`);
    assert.match(v.problem!, /^truncated after \d+ chunks, verified up to /);
    const text = (await readAll(file, token.keys)).flatMap((e) => (e.type === 'output' ? [e.data.toString()] : [])).join('');
    const lines = text.split('\n').slice(0, -1);
    assert.ok(lines.length > 5);
    lines.forEach((l, i) => assert.equal(l, `line ${i}`));
  });
});
