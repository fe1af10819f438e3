// make bench — the session recording writer, in-process on a real SoftHSM token (the data key wrapped once):
//  - bytes per idle second: 60 s of a fake clock with nobody typing, then with a keystroke (and its echo)
//    every 10 s and every second; the goal is at most 10 bytes per idle second;
//  - output() throughput (encrypt, chain, write; backpressure honoured) against a plain fs write stream of
//    the same buffers to the same disk, in the same run, as a ratio.
import { performance } from 'node:perf_hooks';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { RecordingWriter } from '../appliance/recording/index.js';
import { ManualClock, tempDir } from '../tests/helpers/fixtures.js';
import { testToken } from '../tests/helpers/token.js';

const meta = { protocol: 'ssh', cols: 120, rows: 40, term: 'xterm-256color' };
const MIB = 1024 * 1024;

async function idle(keys: ReturnType<typeof testToken>['keys'], dir: string, name: string, keystrokeEvery: number | null): Promise<number> {
  const clock = new ManualClock();
  const w = await RecordingWriter.create({ keys, dir, sessionId: name, clock: clock.read, meta });
  const start = w.bytes;
  for (let s = 1; s <= 60; s++) {
    clock.advance(1000);
    if (keystrokeEvery !== null && s % keystrokeEvery === 0) {
      w.input(Buffer.from('l'));
      clock.advance(3);
      w.output(Buffer.from('l'));
    }
    // What the 1 s flush timer does in production, driven here by the fake clock.
    await w.flush();
  }
  const bytes = w.bytes - start;
  await w.close();
  return bytes / 60;
}

async function throughput(total: number, size: number, write: (b: Buffer) => Promise<void>, end: () => Promise<void>): Promise<number> {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = 32 + (i % 90);
  const t0 = performance.now();
  for (let done = 0; done < total; done += size) await write(buf);
  await end();
  return total / MIB / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const token = testToken();
  const tmp = tempDir('warden-bench-rec-');
  try {
    console.log('recording: bytes on disk per idle second (60 s, fake clock; goal <= 10)');
    for (const [label, every] of [
      ['nobody typing', null],
      ['a keystroke + echo every 10 s', 10],
      ['a keystroke + echo every second', 1],
    ] as const) {
      const perSecond = await idle(token.keys, tmp.dir, `idle-${every ?? 0}`, every);
      console.log(`  ${label.padEnd(34)} ${perSecond.toFixed(2).padStart(7)} B/s`);
    }
    const total = 128 * MIB;
    for (const size of [16 * 1024, 1024]) {
      const base = createWriteStream(path.join(tmp.dir, `baseline-${size}.bin`));
      const baseline = await throughput(
        total,
        size,
        async (b) => {
          if (!base.write(b)) await once(base, 'drain');
        },
        async () => {
          base.end();
          await once(base, 'finish');
        },
      );
      const w = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: `throughput-${size}`, meta });
      const recorded = await throughput(
        total,
        size,
        async (b) => {
          if (!w.output(b)) await new Promise<void>((r) => w.onDrain(r));
        },
        async () => {
          await w.close();
        },
      );
      console.log(`recording: output() of ${total / MIB} MiB in ${size / 1024} KiB writes: ${recorded.toFixed(0)} MB/s vs plain fs write stream ${baseline.toFixed(0)} MB/s = ${(recorded / baseline).toFixed(2)}x`);
    }
  } finally {
    token.cleanup();
    tmp.cleanup();
  }
}

await main();
