// FrameReader: the same stream split the same way whatever the chunking, and streams that are not RDP refused.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, RdpProtocolError, type Frame } from '../../../../daemons/rdp-proxy/protocol/index.js';
import { FREERDP_SESSION } from './captured-frames.js';
import { prng } from '../../../helpers/prng.js';

const frames = FREERDP_SESSION.map((f) => ({ kind: f.kind, bytes: Buffer.from(f.hex, 'hex') }));
const stream = Buffer.concat(frames.map((f) => f.bytes));
const simplify = (fs: Frame[]) => fs.map((f) => ({ kind: f.kind, hex: f.bytes.toString('hex') }));
const expected = simplify(frames);

function feed(chunks: Buffer[]): Frame[] {
  const r = new FrameReader();
  const out: Frame[] = [];
  for (const c of chunks) out.push(...r.push(c));
  assert.equal(r.buffered, 0);
  return out;
}

describe('FrameReader', () => {
  test('a captured session (TPKT, 1- and 2-byte fast-path lengths) splits into its frames at once, a byte at a time, and in random chunks', () => {
    assert.ok(frames.some((f) => f.kind === 'fastpath' && f.bytes.length > 0x7f), 'the capture holds a long fast-path frame');
    assert.deepEqual(simplify(feed([stream])), expected);
    const bytes: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    assert.deepEqual(simplify(feed(bytes)), expected);
    const rand = prng(10);
    for (let round = 0; round < 20; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const n = Math.min(stream.length - at, Math.floor(rand() * 3000));
        chunks.push(stream.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(simplify(feed(chunks)), expected, `round ${round}`);
    }
  });

  test('partial frames wait; buffered counts them', () => {
    const r = new FrameReader();
    assert.deepEqual(r.push(stream.subarray(0, 3)), []);
    assert.equal(r.buffered, 3);
    const first = frames[0]!.bytes.length;
    assert.equal(r.push(stream.subarray(3, first + 1)).length, 1);
    assert.equal(r.buffered, 1);
  });

  test('bad lengths and bytes refuse the stream, and it stays refused', () => {
    const refuses = (hexes: string[], re: RegExp, opts?: { maxFrame: number }) => {
      const r = new FrameReader(opts);
      assert.throws(() => hexes.forEach((h) => r.push(Buffer.from(h, 'hex'))), (e: unknown) => e instanceof RdpProtocolError && re.test(e.message));
      assert.throws(() => r.push(Buffer.from('0300000702f080', 'hex')), RdpProtocolError);
    };
    refuses(['03000000'], /shorter than/);
    refuses(['03000006'], /shorter than/);
    refuses(['03010010'], /reserved/);
    refuses(['0400'], /fast-path: length 0/);
    refuses(['0402'], /fast-path: length 2/);
    refuses(['048003'], /fast-path: length 3/);
    refuses(['01'], /neither/);
    refuses(['07'], /neither/);
    refuses(['0300ff00'], /bound/, { maxFrame: 4096 });
    refuses(['04ffff'], /bound/, { maxFrame: 4096 });
  });
});
