// The SFTP and scp observers on hand-built streams: every packet boundary (one byte at a time), garbage,
// and a client that never closes — they watch, report what they can, and never hold more than a bounded map.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SftpObserver, ScpObserver, type FileOperation } from '../../../appliance/ssh/index.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const packet = (type: number, ...parts: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
};
const u64 = (n: number) => Buffer.concat([u32(0), u32(n)]);

function feed(obs: SftpObserver, side: 'client' | 'target', buf: Buffer, step: number): void {
  for (let i = 0; i < buf.length; i += step) (side === 'client' ? obs.fromClient(buf.subarray(i, i + step)) : obs.fromTarget(buf.subarray(i, i + step)));
}

describe('SFTP observer', () => {
  for (const step of [1, 3, 1 << 20]) {
    test(`an upload, a download, a refused open, remove/rename/mkdir/rmdir, fed ${step === 1 << 20 ? 'whole' : `${step} byte(s) at a time`}`, () => {
      const ops: FileOperation[] = [];
      const o = new SftpObserver((op) => ops.push(op));
      const data = Buffer.alloc(70_000, 0x61);
      const c = (b: Buffer) => feed(o, 'client', b, step);
      const t = (b: Buffer) => feed(o, 'target', b, step);
      c(packet(1, u32(3))); // INIT
      t(packet(2, u32(3))); // VERSION
      c(packet(3, u32(1), str('/up.bin'), u32(0x02 | 0x08 | 0x10), u32(0))); // OPEN write|creat|trunc
      t(packet(102, u32(1), str('H1')));
      c(packet(6, u32(2), str('H1'), u64(0), str(data)));
      c(packet(6, u32(3), str('H1'), u64(data.length), str(data.subarray(0, 5))));
      t(packet(101, u32(2), u32(0)));
      c(packet(4, u32(4), str('H1')));
      c(packet(3, u32(5), str('/down.bin'), u32(0x01), u32(0)));
      t(packet(102, u32(5), str('H2')));
      c(packet(5, u32(6), str('H2'), u64(0), u32(32768)));
      c(packet(5, u32(7), str('H2'), u64(32768), u32(32768)));
      t(packet(103, u32(6), str(data.subarray(0, 32768))));
      t(packet(103, u32(7), str(data.subarray(0, 100))));
      t(packet(101, u32(8), u32(1))); // an EOF answer to nothing tracked
      c(packet(4, u32(9), str('H2')));
      c(packet(3, u32(10), str('/secret'), u32(0x01), u32(0)));
      t(packet(101, u32(10), u32(3))); // permission denied
      c(packet(13, u32(11), str('/gone')));
      c(packet(18, u32(12), str('/a'), str('/b')));
      c(packet(200, u32(13), str('posix-rename@openssh.com'), str('/b'), str('/c')));
      c(packet(14, u32(14), str('/d'), u32(0)));
      c(packet(15, u32(15), str('/d')));
      for (const id of [11, 12, 13, 14, 15]) t(packet(101, u32(id), u32(id === 11 ? 2 : 0)));
      assert.deepEqual(ops, [
        { op: 'upload', path: '/up.bin', bytes: data.length + 5, ok: true },
        { op: 'download', path: '/down.bin', bytes: 32868, ok: true },
        { op: 'download', path: '/secret', bytes: 0, ok: false },
        { op: 'remove', path: '/gone', ok: false },
        { op: 'rename', path: '/a', to: '/b', ok: true },
        { op: 'rename', path: '/b', to: '/c', ok: true },
        { op: 'mkdir', path: '/d', ok: true },
        { op: 'rmdir', path: '/d', ok: true },
      ]);
    });
  }

  test('files still open when the channel ends are reported; garbage is survived', () => {
    const ops: FileOperation[] = [];
    const o = new SftpObserver((op) => ops.push(op));
    o.fromClient(packet(3, u32(1), str('/open.bin'), u32(0x02), u32(0)));
    o.fromTarget(packet(102, u32(1), str('H')));
    o.fromClient(packet(6, u32(2), str('H'), u64(0), str('abc')));
    for (let i = 0; i < 2000; i++) o.fromClient(Buffer.from([Math.floor(Math.random() * 256), 0, 0, 1, 3, 0xff]));
    o.end();
    assert.deepEqual(ops, [{ op: 'upload', path: '/open.bin', bytes: 3, ok: true }]);
  });
});

describe('scp observer', () => {
  test('only scp sinks and sources are watched', () => {
    assert.equal(ScpObserver.forCommand('ls -t /tmp', () => {}), null);
    assert.equal(ScpObserver.forCommand('scp', () => {}), null);
    assert.equal(ScpObserver.forCommand('scp -v -t -- /tmp/x', () => {})?.path, '/tmp/x');
    assert.equal(ScpObserver.forCommand('scp -f /etc/hosts', () => {})?.direction, 'download');
  });

  test('a tree upload, one byte at a time: each file with its path under the target and its size', () => {
    const ops: FileOperation[] = [];
    const o = ScpObserver.forCommand('scp -r -t /dst', (op) => ops.push(op))!;
    const stream = Buffer.concat([
      Buffer.from('D0755 0 dir\n'),
      Buffer.from('C0644 5 a.txt\n'),
      Buffer.from('hello'),
      Buffer.from([0]),
      Buffer.from('C0600 0 empty\n'),
      Buffer.from([0]),
      Buffer.from('E\n'),
      Buffer.from('C0644 3 top\nxyz'),
      Buffer.from([0]),
    ]);
    for (let i = 0; i < stream.length; i++) o.fromSender(stream.subarray(i, i + 1));
    assert.deepEqual(ops, [
      { op: 'upload', path: '/dst/dir/a.txt', bytes: 5, ok: true },
      { op: 'upload', path: '/dst/dir/empty', bytes: 0, ok: true },
      { op: 'upload', path: '/dst/top', bytes: 3, ok: true },
    ]);
  });
});
