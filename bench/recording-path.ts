// make bench — what the terminal proxy does per chunk with recording on, without the network: 200 MiB in
// 32 KiB chunks through the proxy's own taps (appliance/ssh/recording-taps.ts: the encrypted
// recording on a real SoftHSM token, the command guard and its screen model, the search text), for
//   (a) an exec channel without a terminal, target → client (`head -c`) and client → target (`cat >`);
//   (b) a shell with a terminal, target → client (a flood of coloured text lines);
// against a plain Buffer copy of the same chunks in the same run. Figures: MiB/s, event-loop ms per MiB (time
// spent inside the tap's synchronous calls, what the proxy's loop pays) and process CPU ms per MiB (all
// threads, what the machine pays). The proxy shares ~2 cores with two ssh2 legs of encryption, so the loop
// cost should stay well under ~1 ms per MiB.
//   node dist/bench/recording-path.js [--mib N] [--only exec|shell]    (with --cpu-prof for a profile)
import { performance } from 'node:perf_hooks';
import { RecordingTaps } from '../appliance/ssh/index.js';
import type { ChannelInfo, ChannelTap } from '../appliance/ssh/index.js';
import { RecordingWriter } from '../appliance/recording/index.js';
import { CommandGuard, type CommandGuardOptions } from '../appliance/commands/index.js';
import { SessionActivityRecorder, SessionRecording, type ProxySession, type RecordingService } from '../appliance/sessions/index.js';
import type { Appliance } from '../appliance/index.js';
import { tempDir } from '../tests/helpers/fixtures.js';
import { testToken } from '../tests/helpers/token.js';

const MIB = 1024 * 1024;
const CHUNK = 32 * 1024;
const argMib = process.argv.indexOf('--mib');
const TOTAL = (argMib > 0 ? Number(process.argv[argMib + 1]) : 200) * MIB;
const argOnly = process.argv.indexOf('--only');
/** `--only exec|shell`: one kind of channel (for a profile). */
const ONLY = argOnly > 0 ? process.argv[argOnly + 1] : undefined;

interface Figures {
  mibPerS: number;
  loopMsPerMib: number;
  cpuMsPerMib: number;
}

function binaryChunks(): Buffer[] {
  // Several distinct chunks, so nothing is cached on identity.
  return Array.from({ length: 8 }, (_, k) => {
    const b = Buffer.allocUnsafe(CHUNK);
    let x = 0x9e3779b9 ^ k;
    for (let i = 0; i < CHUNK; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  });
}

function terminalChunks(): Buffer[] {
  // `ls -l --color` / a build log: short lines, a colour sequence here and there, CRLF as a pty sends them.
  return Array.from({ length: 8 }, (_, k) => {
    let s = '';
    let n = 0;
    while (s.length < CHUNK) {
      n++;
      s += n % 7 === 0 ? `\x1b[01;34mdirectory-${k}-${n}\x1b[0m\r\n` : `-rw-r--r-- 1 user group ${(n * 7919) % 100000} Nov 23 02:18 file-${k}-${n}.log  some words of output\r\n`;
    }
    return Buffer.from(s.slice(0, CHUNK), 'latin1');
  });
}

async function measure(feed: (chunk: Buffer) => Promise<void> | void, chunks: Buffer[], end: () => Promise<void>): Promise<Figures> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let loop = 0;
  for (let done = 0, i = 0; done < TOTAL; done += CHUNK, i++) {
    const a = performance.now();
    const wait = feed(chunks[i % chunks.length]!);
    loop += performance.now() - a;
    if (wait) await wait;
  }
  // The end (the last chunk sealed, the file synced to disk) is waited for, not spent on the loop.
  await end();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mib = TOTAL / MIB;
  return { mibPerS: mib / secs, loopMsPerMib: loop / mib, cpuMsPerMib: (cpu.user + cpu.system) / 1000 / mib };
}

function fakeSession(id: string): ProxySession {
  const s = {
    id,
    protocol: 'ssh',
    username: 'bench',
    requestEnd: () => {},
    judgeExec: () => ({ action: 'allow', rule: null, part: '' }),
    commandGuard: (o: Omit<CommandGuardOptions, 'rules' | 'mode'>) => new CommandGuard({ ...o, rules: [{ position: 0, pattern: 'rm -rf /', action: 'block' }] as never, mode: 'rules' }),
  };
  return s as unknown as ProxySession;
}

async function main(): Promise<void> {
  const token = testToken();
  const tmp = tempDir('warden-bench-recpath-');
  let stored = 0;
  const appliance = {
    recordings: {
      start: async (session: ProxySession, meta: { cols: number; rows: number; term: string }) => {
        const writer = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: session.id, meta: { ...meta, protocol: 'ssh' } });
        const service = { finish: async (r: SessionRecording) => void (await r.writer.close()) } as unknown as RecordingService;
        return new SessionRecording(service, `rec-${session.id}`, session.id, writer);
      },
    },
    sessions: {
      activityRecorder: (id: string) =>
        new SessionActivityRecorder(id, async (_id, a) => {
          stored += a.output.reduce((n, o) => n + o.text.length, 0);
        }),
    },
  } as unknown as Appliance;
  const taps = new RecordingTaps(appliance);
  let n = 0;

  async function through(info: ChannelInfo, direction: 'fromTarget' | 'fromClient', chunks: Buffer[]): Promise<Figures> {
    const session = fakeSession(`bench-${++n}`);
    let paused = false;
    let resumed: (() => void) | null = null;
    const io = {
      toTarget: () => {},
      toClient: () => {},
      pause: () => void (paused = true),
      resume: () => {
        paused = false;
        resumed?.();
      },
    };
    const tap: ChannelTap = await taps.open(session, info, io);
    return measure(
      (chunk) => {
        if (direction === 'fromTarget') tap.fromTarget(chunk, 'stdout');
        else tap.fromClient(chunk);
        if (!paused) return;
        return new Promise<void>((r) => (resumed = r));
      },
      chunks,
      async () => {
        tap.end({ code: 0 });
        await taps.close(session);
      },
    );
  }

  const line = (label: string, f: Figures, base: Figures): void =>
    console.log(
      `  ${label.padEnd(36)} ${f.mibPerS.toFixed(0).padStart(6)} MiB/s (${(f.mibPerS / base.mibPerS).toFixed(3)}x copy)  loop ${f.loopMsPerMib.toFixed(3).padStart(7)} ms/MiB  cpu ${f.cpuMsPerMib.toFixed(3).padStart(7)} ms/MiB`,
    );

  try {
    const bin = binaryChunks();
    const text = terminalChunks();
    const copy = await measure((c) => void Buffer.from(c), bin, async () => {});
    console.log(`recording path: ${TOTAL / MIB} MiB in ${CHUNK / 1024} KiB chunks through the proxy's taps (recording, guard, search text)`);
    line('baseline: Buffer copy', copy, copy);
    if (ONLY !== 'shell') line('(a) exec, no pty, target -> client', await through({ kind: 'exec', command: 'head -c 209715200 /dev/zero' }, 'fromTarget', bin), copy);
    if (ONLY !== 'shell') line('(a) exec, no pty, client -> target', await through({ kind: 'exec', command: 'cat > /dev/null' }, 'fromClient', bin), copy);
    if (ONLY !== 'exec') line('(b) shell, pty, target -> client', await through({ kind: 'shell', cols: 120, rows: 40, term: 'xterm' }, 'fromTarget', text), copy);
    console.log(`  (search text handed to the index: ${(stored / MIB).toFixed(1)} MiB of characters)`);
  } finally {
    token.cleanup();
    tmp.cleanup();
  }
}

await main();
