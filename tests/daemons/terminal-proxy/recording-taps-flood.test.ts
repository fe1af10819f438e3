// The proxy's taps under a terminal flood: every byte is recorded, but the search index gets a bounded slice
// (a burst, then a steady rate), so a `cat` of a huge log does not turn the proxy into a text converter; the
// start of the output, what a person looks for, is indexed. A real recording on a SoftHSM token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingTaps, INTERACTIVE_INDEX_BURST } from '../../../appliance/ssh/index.js';
import { RecordingWriter, verifyRecording } from '../../../appliance/recording/index.js';
import { CommandGuard, type CommandGuardOptions } from '../../../appliance/commands/index.js';
import { SessionActivityRecorder, SessionRecording, type ProxySession, type RecordingService } from '../../../appliance/sessions/index.js';
import type { Appliance } from '../../../appliance/index.js';
import { tempDir } from '../../helpers/fixtures.js';
import { testToken } from '../../helpers/token.js';

test('a terminal flood is recorded whole and indexed in a bounded slice, its start included', async () => {
  const token = testToken();
  const tmp = tempDir('warden-taps-flood-');
  try {
    const indexed: string[] = [];
    let file = '';
    const appliance = {
      recordings: {
        start: async (session: ProxySession, m: { cols: number; rows: number; term: string }) => {
          const writer = await RecordingWriter.create({ keys: token.keys, dir: tmp.dir, sessionId: session.id, meta: { ...m, protocol: 'ssh' } });
          file = writer.path;
          const service = { finish: async (r: SessionRecording) => void (await r.writer.close()) } as unknown as RecordingService;
          return new SessionRecording(service, 'rec-1', session.id, writer);
        },
      },
      sessions: {
        activityRecorder: (id: string) => new SessionActivityRecorder(id, async (_id, a) => void indexed.push(...a.output.map((o) => o.text))),
      },
    } as unknown as Appliance;
    const session = {
      id: 'flood-session',
      protocol: 'ssh',
      username: 'u',
      requestEnd: () => {},
      judgeExec: () => ({ action: 'allow', rule: null, part: '' }),
      commandGuard: (o: Omit<CommandGuardOptions, 'rules' | 'mode'>) => new CommandGuard({ ...o, rules: [], mode: 'rules' }),
    } as unknown as ProxySession;
    const taps = new RecordingTaps(appliance);
    const tap = await taps.open(session, { kind: 'shell', cols: 80, rows: 24, term: 'xterm' }, { toTarget: () => {}, toClient: () => {}, pause: () => {}, resume: () => {} });
    const total = 8 * INTERACTIVE_INDEX_BURST;
    const line = (n: number) => `line ${String(n).padStart(8, '0')} of the log\r\n`;
    let n = 0;
    for (let sent = 0; sent < total; ) {
      let s = '';
      while (s.length < 32 * 1024) s += line(n++);
      tap.fromTarget(Buffer.from(s), 'stdout');
      sent += s.length;
    }
    tap.end({ code: 0 });
    await taps.close(session);
    const text = indexed.join('');
    assert.match(text, /line 00000000 of the log/);
    // A burst plus what the rate adds in the (short) time this took: far less than the flood.
    assert.ok(text.length < 2 * INTERACTIVE_INDEX_BURST, `${text.length} characters indexed`);
    const v = await verifyRecording(file, token.keys);
    assert.equal(v.ok && v.complete, true, v.problem);
  } finally {
    token.cleanup();
    tmp.cleanup();
  }
});
