// The terminal for clients that are not SSH (appliance/ssh/terminal.ts), on its own: its flow control against a
// recording that falls behind (typing waits in order and, past a bound, the client is asked to hold the rest),
// against a client that does not read (the target is held), and its one end (recording, then row, then client).
// The whole path with a real sshd and a browser is tests/integration/web-terminal and console-terminal.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Client, ClientChannel } from 'ssh2';
import type { ProxySession } from '../../../appliance/sessions/index.js';
import { INPUT_BACKLOG_BYTES, Terminal, TerminalIO, type ChannelTap, type TerminalDeps, type TerminalEnd } from '../../../appliance/ssh/index.js';

class FakeChannel extends EventEmitter {
  readonly stderr = Object.assign(new EventEmitter(), { paused: false, pause() { this.paused = true; }, resume() { this.paused = false; } });
  written: Buffer[] = [];
  paused = false;
  writable = true;
  closed = false;
  window: number[] = [];
  write(d: Buffer): boolean {
    this.written.push(d);
    return true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  setWindow(rows: number, cols: number): void {
    this.window = [cols, rows];
  }
  close(): void {
    this.closed = true;
  }
}

function lab() {
  const channel = new FakeChannel();
  const upstream = Object.assign(new EventEmitter(), { ended: false, end() { this.ended = true; } });
  const order: string[] = [];
  const closed: Record<string, unknown>[] = [];
  const session = {
    id: 'f0f0f0f0-0000-4000-8000-000000000001',
    progress: () => undefined,
    onEndRequested: () => undefined,
    close: async (end: Record<string, unknown>) => {
      order.push('row');
      closed.push(end);
    },
  } as unknown as ProxySession;
  const resized: number[][] = [];
  const tap: ChannelTap = {
    fromClient: (d) => d,
    fromTarget: () => true,
    resize: (c, r) => void resized.push([c, r]),
    clientEnd: async () => undefined,
    end: () => void order.push('tap'),
  };
  const deps = { taps: { close: async () => void order.push('recording') } } as unknown as TerminalDeps;
  const io = new TerminalIO();
  const output: Buffer[] = [];
  const holds: boolean[] = [];
  let ended: TerminalEnd | null = null;
  const terminal = new Terminal(deps, session, upstream as unknown as Client, channel as unknown as ClientChannel, tap, io, {
    output: (d) => void output.push(d),
    ended: (e) => {
      order.push('client');
      ended = e;
    },
    holdInput: (h) => void holds.push(h),
  });
  return { channel, upstream, terminal, io, output, holds, order, closed, resized, ended: () => ended };
}

describe('web terminal (appliance/ssh/terminal.ts)', () => {
  test('while the recording falls behind, typing waits in order; past the bound the client holds the rest; then it all goes', () => {
    const l = lab();
    l.terminal.input(Buffer.from('ls\r'));
    assert.deepEqual(l.channel.written.map(String), ['ls\r']);
    l.io.pause();
    assert.ok(l.channel.paused, 'the target is held too');
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 4; i++) l.terminal.input(chunk);
    assert.deepEqual(l.holds, [], 'within the bound: nothing to hold yet');
    assert.equal(l.channel.written.length, 1, 'nothing passes while held');
    l.terminal.input(Buffer.from('b'));
    assert.ok(4 * chunk.length + 1 > INPUT_BACKLOG_BYTES);
    assert.deepEqual(l.holds, [true], 'past the bound the client is asked to stop sending');
    l.io.resume();
    assert.ok(!l.channel.paused);
    assert.equal(Buffer.concat(l.channel.written).toString(), `ls\r${'a'.repeat(4 * chunk.length)}b`, 'in order, nothing lost');
    assert.deepEqual(l.holds, [true, false]);
  });

  test('a client that does not read holds the target; a resize is clamped and recorded', () => {
    const l = lab();
    l.terminal.clientFull(true);
    assert.ok(l.channel.paused && l.channel.stderr.paused);
    l.terminal.clientFull(false);
    assert.ok(!l.channel.paused && !l.channel.stderr.paused);
    l.terminal.resize(5000, 0);
    assert.deepEqual(l.channel.window, [1000, 24]);
    assert.deepEqual(l.resized, [[1000, 24]]);
  });

  test('the shell exits: the recording closes, then the row (with bytes and status), then the client hears it, once', async () => {
    const l = lab();
    l.terminal.input(Buffer.from('exit 7\r'));
    l.channel.emit('data', Buffer.from('bye\r\n'));
    assert.deepEqual(l.output.map(String), ['bye\r\n']);
    l.channel.emit('exit', 7);
    l.channel.emit('close');
    await l.terminal.close('client-disconnected');
    assert.deepEqual(l.order, ['tap', 'recording', 'row', 'client']);
    assert.deepEqual(l.closed, [{ reason: 'exited', bytesIn: 7, bytesOut: 5, exitStatus: 7 }]);
    assert.deepEqual(l.ended(), { reason: 'exited', exit: { code: 7 } });
    assert.ok(l.upstream.ended);
    l.terminal.input(Buffer.from('late'));
    assert.equal(l.channel.written.length, 1, 'nothing is sent after the end');
  });
});
