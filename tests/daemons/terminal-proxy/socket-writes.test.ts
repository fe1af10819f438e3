// coalesceWrites: the writes made to a socket in one turn of the event loop leave in one vectored write, in
// order; a write in a later turn goes on its own; nothing is held once the turn is over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { coalesceWrites } from '../../../appliance/ssh/index.js';

async function pair(): Promise<{ client: net.Socket; received: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  let serverSide: net.Socket | undefined;
  const server = net.createServer((s) => {
    serverSide = s;
    s.on('data', (d) => chunks.push(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  return {
    client,
    received: () => Buffer.concat(chunks),
    close: async () => {
      client.destroy();
      serverSide?.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('writes in one turn go out in one writev, in order; the next turn writes again', async () => {
  const p = await pair();
  coalesceWrites(p.client);
  const calls: string[] = [];
  const s = p.client as net.Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const [write, writev] = [s._write, s._writev];
  s._write = function (...args: unknown[]) {
    calls.push('write');
    return write.apply(this, args);
  };
  s._writev = function (...args: unknown[]) {
    calls.push(`writev ${(args[0] as unknown[]).length}`);
    return writev.apply(this, args);
  };
  p.client.write(Buffer.from('one,'));
  p.client.write(Buffer.from('two,'));
  p.client.write(Buffer.from('three,'));
  assert.deepEqual(calls, [], 'held until the turn ends');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ['writev 3']);
  p.client.write(Buffer.from('four'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ['writev 3', 'write']);
  for (let i = 0; i < 50 && p.received().length < 18; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p.received().toString(), 'one,two,three,four');
  await p.close();
});

test('end() in the same turn sends what was held before the FIN', async () => {
  const p = await pair();
  coalesceWrites(p.client);
  p.client.write(Buffer.from('last words'));
  p.client.end();
  for (let i = 0; i < 50 && p.received().length < 10; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p.received().toString(), 'last words');
  await p.close();
});

test("Nagle's algorithm is off: a small write in a later turn is not held for the peer's ACK", async () => {
  const p = await pair();
  const calls: boolean[] = [];
  const setNoDelay = p.client.setNoDelay;
  p.client.setNoDelay = function (on?: boolean) {
    calls.push(on ?? true);
    return setNoDelay.call(this, on);
  };
  coalesceWrites(p.client);
  assert.deepEqual(calls, [true]);
  await p.close();
});
