// The writer under a bulk transfer: chunks are sealed on the sealing thread, in order, and grow while data
// floods (fewer hand-overs), yet every byte reads back in order and the file verifies. Two recordings share
// the one sealing thread without mixing their chunks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingWriter, openRecording, verifyRecording } from '../../../appliance/recording/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { testToken, type TestToken } from '../../helpers/token.js';

const meta = { protocol: 'ssh', cols: 80, rows: 24, term: 'xterm' };
let token: TestToken;
let tmp: ReturnType<typeof tempDir>;
before(() => {
  token = testToken();
  tmp = tempDir('warden-writer-flood-');
});
after(() => {
  token.cleanup();
  tmp.cleanup();
});

function piece(n: number, size: number): Buffer {
  const b = Buffer.alloc(size, n & 0xff);
  b.writeUInt32BE(n, 0);
  return b;
}

test('a flood is recorded in growing chunks, two recordings at once, every byte back in order', async () => {
  const writers = await Promise.all(['flood-a', 'flood-b'].map((sessionId) => RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId, meta })));
  const pieces = 256; // 8 MiB each, in 32 KiB writes
  for (let n = 0; n < pieces; n++) {
    for (const w of writers) if (!w.output(piece(n, 32 * 1024))) await new Promise<void>((r) => w.onDrain(r));
  }
  for (const w of writers) {
    const summary = await w.close();
    // 64 KiB chunks would make 128; growing to 1 MiB makes far fewer.
    assert.ok(summary.chunks < 40, `${summary.chunks} chunks`);
    const v = await verifyRecording(summary.path, token.keys);
    assert.equal(v.ok && v.complete, true, v.problem);
    const rec = await openRecording(summary.path, token.keys);
    const out: Buffer[] = [];
    for await (const e of rec.events()) if (e.type === 'output') out.push(e.data);
    const all = Buffer.concat(out);
    assert.equal(all.length, pieces * 32 * 1024);
    for (let n = 0; n < pieces; n++) assert.ok(all.subarray(n * 32 * 1024, (n + 1) * 32 * 1024).equals(piece(n, 32 * 1024)), `piece ${n}`);
  }
});

test('a flood reuses the staging buffers the sealing thread hands back: it allocates none per chunk', async () => {
  const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: 'flood-reuse', meta });
  // Every staging buffer is a `new ArrayBuffer`: count those of chunk size while 32 MiB flood in.
  const Original = globalThis.ArrayBuffer;
  let allocated = 0;
  globalThis.ArrayBuffer = new Proxy(Original, {
    construct(target, args: [number]) {
      if (args[0] >= 64 * 1024) allocated++;
      return new target(...args);
    },
  });
  try {
    for (let n = 0; n < 1024; n++) if (!w.output(piece(n, 32 * 1024))) await new Promise<void>((r) => w.onDrain(r));
  } finally {
    globalThis.ArrayBuffer = Original;
  }
  const summary = await w.close();
  // The ramp to 1 MiB chunks and what may be in flight at the high-water mark; not one per chunk (~32).
  assert.ok(summary.chunks >= 30, `${summary.chunks} chunks`);
  assert.ok(allocated <= 12, `${allocated} staging buffers allocated for ${summary.chunks} chunks`);
  const v = await verifyRecording(summary.path, token.keys);
  assert.equal(v.ok && v.complete, true, v.problem);
});
