// The terminal proxy's recording and command rules end to end: the daemon as a process, a real sshd target
// with a local account, real OpenSSH clients (ssh, scp, sftp through sshpass). The interactive shell is
// OpenSSH's `ssh -tt` with its stdin a pipe: it asks the target for a PTY and passes each write on as it
// comes, the same bytes a terminal would send. What is on disk afterwards is read back through orbit
// (search, export) and the recording reader.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync, existsSync, mkdtempSync, readdirSync, statSync, chownSync, chmodSync } from 'node:fs';
import path from 'node:path';
import type { Appliance } from '../../appliance/index.js';
import type { RecordingEvent } from '../../appliance/recording/index.js';
import type { InitializedHome } from '../helpers/fixtures.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { closedRecording as closedRecordingOf, recordingEvents, runClient, startTerminalProxy, type ClientRun, type RunningProxy } from '../helpers/terminal-proxy.js';
import { runOrbit } from '../helpers/orbit.js';

const admin = { username: 'admin', ip: '127.0.0.1', profile: 'administrator' };
/** Not the other proxy test's account: the two files may run at once, each setting its own password. */
const TARGET_USER = 'wrecord';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminal proxy: recordings, command rules, file operations, search', { timeout: 300_000 }, () => {
  let lab: ProxyLab;
  let home: InitializedHome;
  let proxy: RunningProxy;
  let a: Appliance;
  /** Distinctive, so a scan of every byte on disk cannot miss it or find it by chance. */
  const targetPassword = `InjectedZ9q-${randomBytes(10).toString('hex')}-Kx7`;
  let alicePw = '';
  let work = '';
  let uid = 0;
  let gid = 0;
  const proxies: RunningProxy[] = [];

  const ssh = (args: string[], opts: Parameters<typeof runClient>[3] = {}, port = proxy.port): Promise<ClientRun> & { proc: import('node:child_process').ChildProcess } => {
    const options = args.filter((x) => x.startsWith('-'));
    const command = args.filter((x) => !x.startsWith('-'));
    return runClient('ssh', ['-p', String(port), '-l', 'alice:wrecord@db01', ...options, '127.0.0.1', ...command], alicePw, opts);
  };

  /** A file the target account could remove: a rule, not a permission, must be what keeps it. */
  function targetFile(name: string): string {
    const f = path.join(work, name);
    writeFileSync(f, 'precious\n');
    chownSync(f, uid, gid);
    return f;
  }

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      targetPassword,
      settings: { timeZone: 'UTC' },
      users: { alice: {} },
      hosts: ['db01'],
      groups: [{ name: 'ops', users: ['alice'], hosts: ['db01'], commandRules: [{ pattern: '^rm\\s+-[a-z]*r[a-z]*f', action: 'block' }] }],
    });
    ({ home, a, proxy } = lab);
    alicePw = lab.users.alice!.password;
    uid = Number(execFileSync('id', ['-u', TARGET_USER], { encoding: 'utf8' }));
    gid = Number(execFileSync('id', ['-g', TARGET_USER], { encoding: 'utf8' }));
    work = mkdtempSync('/tmp/warden-rec-');
    chownSync(work, uid, gid);
    chmodSync(work, 0o755);
    proxies.push(proxy);
  });

  after(async () => {
    for (const p of proxies) await p.stop();
    await lab?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The newest session (by its start event). */
  async function lastSession(): Promise<string> {
    const [ev] = await a.store.repos.auditEvents.query({ type: 'session.start', limit: 1 });
    return JSON.parse(ev!.detail).session as string;
  }

  /** The session's recording once the proxy has closed it (the row says so). */
  async function closedRecording(sessionId: string): Promise<string> {
    const r = await closedRecordingOf(a, sessionId);
    assert.equal(r.status, 'complete');
    return r.id;
  }

  const events = (recordingId: string): Promise<RecordingEvent[]> => recordingEvents(a, recordingId);

  /** An interactive shell through the proxy: `steps` are [what to wait for in the output, what to type]. */
  async function shell(steps: [RegExp, string][], port = proxy.port): Promise<ClientRun & { done: number }> {
    let done = 0;
    let mark = 0;
    const r = await ssh(['-tt'], {
      timeoutMs: 30_000,
      onOutput: (all, write, end) => {
        while (done < steps.length && steps[done]![0].test(all.slice(mark))) {
          mark = all.length;
          write(steps[done]![1]);
          done++;
          if (done === steps.length) end();
        }
      },
    }, port);
    return { ...r, done };
  }

  test('an interactive rm -rf is blocked before Enter reaches the target, the user sees why; ls and a plain rm run; the export is what the client saw; the search finds it', async () => {
    const keep = targetFile('x');
    const goes = targetFile('y');
    const prompt = /\$ $/;
    const r = await shell([
      [prompt, `rm -rf ${keep}\r`],
      [/command blocked by rule 1[\s\S]*\$ $/, `ls ${work}\r`],
      [/\r\nx\s+y\r\n[\s\S]*\$ $/, `rm ${goes}\r`],
      [prompt, 'exit\r'],
    ]);
    const seen = r.stdout.toString('utf8');
    assert.equal(r.done, 4, seen);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(keep), 'the blocked rm -rf never ran');
    assert.equal(existsSync(goes), false, 'the account could remove files there: a rule kept x, not a permission');
    assert.match(seen, /warden: command blocked by rule 1 \(\^rm/);

    const sessionId = await lastSession();
    const recordingId = await closedRecording(sessionId);
    // orbit's asciicast export: its output stream is, byte for byte, what the client received.
    const exported = await runOrbit(home.home, ['recording', 'export', recordingId]);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].version, 2);
    const output = lines.slice(1).filter((l) => l[1] === 'o').map((l) => l[2] as string).join('');
    assert.equal(output, seen);
    // What the user typed is its own stream: the cancelled line is in it.
    const typed = Buffer.concat((await events(recordingId)).filter((e) => e.type === 'input').map((e) => (e as { data: Buffer }).data)).toString();
    assert.match(typed, new RegExp(`rm -rf ${keep}`));

    // orbit session search finds the blocked command at this session, and the allowed ones.
    const found = await runOrbit(home.home, ['session', 'search', 'rm -rf', '--user', 'alice', '--json']);
    assert.equal(found.code, 0, found.stderr);
    const hits = JSON.parse(found.stdout).results as { sessionId: string; recordingId: string; command: string; action: string }[];
    assert.deepEqual(hits.map((h) => [h.sessionId, h.recordingId, h.command, h.action]), [[sessionId, recordingId, `rm -rf ${keep}`, 'block']]);
    const ls = await a.sessions.search.find({ command: `ls ${work}` });
    assert.deepEqual(ls.map((h) => [h.sessionId, h.action]), [[sessionId, 'allow']]);
    const [ev] = await a.audit.events({ type: 'session.command_blocked', limit: 1 });
    assert.equal(ev?.severity, 'high');
    assert.equal((ev?.detail as { session: string }).session, sessionId);
  });

  test('what the user types at a password prompt on the target is neither recorded nor stored as a command', async () => {
    const secret = `TypedSecret-${randomBytes(4).toString('hex')}`;
    const r = await shell([
      [/\$ $/, "printf 'Password: '; stty -echo; read x; stty echo; echo; echo got-${#x}\r"],
      [/Password: $/, `${secret}\r`],
      [/got-\d+\r\n[\s\S]*\$ $/, 'exit\r'],
    ]);
    assert.equal(r.done, 3, r.stdout.toString());
    assert.match(r.stdout.toString(), new RegExp(`got-${secret.length}`));
    const sessionId = await lastSession();
    const all = await events(await closedRecording(sessionId));
    const typed = Buffer.concat(all.filter((e) => e.type === 'input').map((e) => (e as { data: Buffer }).data)).toString();
    assert.match(typed, /stty -echo/, 'input is recorded around the prompt');
    assert.doesNotMatch(typed, new RegExp(secret));
    assert.ok(all.some((e) => e.type === 'event' && e.kind === 'input-suppressed' && e.data.on === true), 'the gap is marked');
    const stored = await a.store.repos.sessionCommands.commandsOf(sessionId);
    assert.ok(stored.length > 0 && stored.every((c) => !c.command.includes(secret)), JSON.stringify(stored));
  });

  test('a blocked exec command is refused before its channel opens: message, non-zero exit, nothing ran; an allowed one runs', async () => {
    const keep = targetFile('exec-x');
    const r = await ssh([`rm -rf ${keep}`]);
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stderr, /warden: command blocked by rule 1/);
    assert.ok(existsSync(keep));
    const sessionId = await lastSession();
    const [ev] = await a.audit.events({ type: 'session.command_blocked', limit: 1 });
    assert.deepEqual(ev?.detail, { session: sessionId, command: `rm -rf ${keep}`, exec: true, rule: 0, pattern: '^rm\\s+-[a-z]*r[a-z]*f' });
    const rec = await closedRecording(sessionId);
    assert.ok((await events(rec)).some((e) => e.type === 'event' && e.kind === 'exec' && e.data.action === 'block'));

    const ok = await ssh([`ls ${work}; exit 3`]);
    assert.equal(ok.code, 3, ok.stderr);
    assert.match(ok.stdout.toString(), /exec-x/);
    const okSession = await lastSession();
    await closedRecording(okSession);
    const hits = await a.sessions.search.find({ command: `ls ${work}; exit 3` });
    assert.deepEqual(hits.map((h) => h.sessionId), [okSession]);
    const stored = await a.store.repos.sessionCommands.commandsOf(okSession);
    assert.deepEqual(stored.map((c) => [c.command, c.exitStatus, c.action]), [[`ls ${work}; exit 3`, 3, 'allow']]);

    // Without a terminal, output is recorded whole but only its first 256 KiB goes to the text index.
    const bulk = await ssh(["echo HEAD$((1+1))NEEDLE; head -c 400000 /dev/zero | tr '\\0' '.'; echo; echo TAIL$((1+1))NEEDLE"]);
    assert.equal(bulk.code, 0, bulk.stderr);
    const bulkSession = await lastSession();
    const bulkRec = await closedRecording(bulkSession);
    assert.deepEqual((await a.sessions.search.find({ text: 'HEAD2NEEDLE' })).map((h) => h.sessionId), [bulkSession]);
    assert.deepEqual(await a.sessions.search.find({ text: 'TAIL2NEEDLE' }), []);
    const printed = Buffer.concat((await events(bulkRec)).filter((e) => e.type === 'output').map((e) => (e as { data: Buffer }).data));
    assert.deepEqual(printed, bulk.stdout);
  });

  test('a shell started as an exec command with a terminal (ssh -tt host sh) is guarded like a shell', async () => {
    const keep = targetFile('pty-exec-x');
    let step = 0;
    const r = await ssh(['-tt', 'sh'], {
      onOutput: (all, write, end) => {
        if (step === 0 && /\$ $/.test(all)) {
          step = 1;
          write(`rm -rf ${keep}\r`);
        } else if (step === 1 && /command blocked by rule 1[\s\S]*\$ $/.test(all)) {
          step = 2;
          write('exit\r');
          end();
        }
      },
    });
    assert.equal(step, 2, r.stdout.toString());
    assert.ok(existsSync(keep));
    const hits = await a.sessions.search.find({ command: `rm -rf ${keep}` });
    assert.deepEqual(hits.map((h) => [h.sessionId, h.action]), [[await lastSession(), 'block']]);
  });

  test('SFTP upload and download are recorded with path, size and direction; so is a legacy scp', async () => {
    const local = path.join(path.dirname(home.home), `${path.basename(home.home)}-up.bin`);
    const content = randomBytes(300_001);
    writeFileSync(local, content);
    const remote = path.join(work, 'sftp-up.bin');
    const back = `${local}.back`;
    const s = await runClient('sftp', ['-P', String(proxy.port), '-o', 'User=alice:wrecord@db01', '127.0.0.1'], alicePw, {
      input: `put ${local} ${remote}\nget ${remote} ${back}\nrename ${remote} ${remote}.2\nmkdir ${work}/d\nrmdir ${work}/d\nrm ${remote}.2\nbye\n`,
    });
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(readFileSync(back), content);
    const sessionId = await lastSession();
    const files = (await events(await closedRecording(sessionId))).filter((e) => e.type === 'event' && e.kind === 'file').map((e) => (e as { data: Record<string, unknown> }).data);
    assert.deepEqual(files, [
      { op: 'upload', path: remote, bytes: content.length, ok: true },
      { op: 'download', path: remote, bytes: content.length, ok: true },
      { op: 'rename', path: remote, to: `${remote}.2`, ok: true },
      { op: 'mkdir', path: `${work}/d`, ok: true },
      { op: 'rmdir', path: `${work}/d`, ok: true },
      { op: 'remove', path: `${remote}.2`, ok: true },
    ]);
    const hits = await a.sessions.search.find({ command: `sftp upload ${remote}` });
    assert.deepEqual(hits.map((h) => [h.sessionId, h.command]), [[sessionId, `sftp upload ${remote} (${content.length} bytes)`]]);

    // scp -O speaks the old protocol: an exec of `scp -t PATH`, the size in its C line.
    const viaScp = path.join(work, 'scp-up.bin');
    const up = await runClient('scp', ['-O', '-P', String(proxy.port), '-o', 'User=alice:wrecord@db01', local, `127.0.0.1:${viaScp}`], alicePw);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(readFileSync(viaScp), content);
    const scpFiles = (await events(await closedRecording(await lastSession()))).filter((e) => e.type === 'event' && e.kind === 'file').map((e) => (e as { data: Record<string, unknown> }).data);
    assert.deepEqual(scpFiles, [{ op: 'upload', path: viaScp, bytes: content.length, ok: true }]);
    const down = await runClient('scp', ['-O', '-P', String(proxy.port), '-o', 'User=alice:wrecord@db01', `127.0.0.1:${viaScp}`, `${local}.scp`], alicePw);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(readFileSync(`${local}.scp`), content);
    const scpDown = (await events(await closedRecording(await lastSession()))).filter((e) => e.type === 'event' && e.kind === 'file').map((e) => (e as { data: Record<string, unknown> }).data);
    assert.deepEqual(scpDown, [{ op: 'download', path: viaScp, bytes: content.length, ok: true }]);
    for (const f of [local, back, `${local}.scp`]) rmSync(f, { force: true });
  });

  test('a daemon killed with SIGKILL mid-session leaves a recording that verifies up to its last complete chunk', async () => {
    const doomed = await startTerminalProxy(home);
    proxies.push(doomed);
    let killed = false;
    const run = ssh(['-tt'], {
      timeoutMs: 30_000,
      onOutput: (all, write) => {
        if (!killed && /\$ $/.test(all) && !/KILLME/.test(all)) write('echo KILL""ME-$((6*7))\r');
        if (!killed && /KILLME-42[\s\S]*\$ $/.test(all)) {
          killed = true;
          // Past the writer's flush interval (1 s): the echo is in a sealed chunk on disk.
          setTimeout(() => doomed.proc.kill('SIGKILL'), 1500);
        }
      },
    }, doomed.port);
    await run;
    assert.ok(killed);
    await doomed.exited;
    const sessionId = await lastSession();
    const view = (await a.recordings.bySession(admin, sessionId))!;
    assert.equal(view.status, 'recording', 'nobody closed it');
    const v = await a.recordings.verify(admin, view.id);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.complete, false);
    assert.ok(v.chunks >= 1);
    const out = Buffer.concat((await events(view.id)).filter((e) => e.type === 'output').map((e) => (e as { data: Buffer }).data)).toString();
    assert.match(out, /KILLME-42/);
  });

  test('SIGTERM closes the recordings of live sessions, once', async () => {
    const stopping = await startTerminalProxy(home);
    proxies.push(stopping);
    let stopped = false;
    const run = ssh(['-tt'], {
      timeoutMs: 30_000,
      onOutput: (all, write) => {
        if (!stopped && /\$ $/.test(all) && !/TERM/.test(all)) write('echo TERM""ED\r');
        if (!stopped && /TERMED[\s\S]*\$ $/.test(all)) {
          stopped = true;
          void stopping.stop();
        }
      },
    }, stopping.port);
    await run;
    assert.equal(await stopping.exited, 0);
    const sessionId = await lastSession();
    const view = (await a.recordings.bySession(admin, sessionId))!;
    assert.equal(view.status, 'complete');
    const v = await a.recordings.verify(admin, view.id);
    assert.equal(v.ok, true, v.problem);
    assert.equal(v.complete, true);
    const ends = await a.audit.events({ type: 'recording.end', limit: 50 });
    assert.equal(ends.filter((e) => (e.detail as { session: string }).session === sessionId).length, 1);
  });

  test('a recording that cannot be written ends its session: nothing more passes, the connection is cut, the row says failed', async (t) => {
    const mnt = mkdtempSync('/tmp/warden-recfull-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      rmSync(mnt, { recursive: true, force: true });
      return t.skip('cannot mount a small tmpfs here (needs root)');
    }
    try {
      const config = JSON.parse(readFileSync(home.configFile, 'utf8'));
      config.recordings = { ...(config.recordings ?? {}), dir: mnt };
      const cfg = path.join(path.dirname(home.home), `${path.basename(home.home)}-full-disk.json`);
      writeFileSync(cfg, JSON.stringify(config));
      const full = await startTerminalProxy(home, { WARDEN_CONFIG: cfg });
      proxies.push(full);
      const total = 20_000_000;
      const r = await shell([[/\$ $/, `head -c ${total} /dev/zero | tr '\\0' a; echo; echo NEVER-SEEN-$((6*7))\r`]], full.port);
      // Cut off: the proxy ended the connection (its notice may be lost behind the flood on the way).
      assert.equal(r.code, 255, r.stderr);
      assert.doesNotMatch(r.stdout.toString(), /NEVER-SEEN-42/);
      assert.ok(r.stdout.length < total, `the client got ${r.stdout.length} bytes`);
      const sessionId = await lastSession();
      let view;
      for (let i = 0; i < 50 && view?.status !== 'failed'; i++, await sleep(100)) view = await a.recordings.bySession(admin, sessionId);
      assert.equal(view?.status, 'failed');
      const row = (await a.store.repos.proxySessions.byId(sessionId))!;
      assert.equal(row.status, 'closed');
      assert.match(String(row.end_reason), /recording-failed/);
      await full.stop();
      for (const f of readdirSync(mnt)) assert.equal(readFileSync(path.join(mnt, f)).indexOf(targetPassword), -1);
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test('the injected password is in no byte on disk: recordings (decrypted too), the database and its WAL, logs', async () => {
    const needle = Buffer.from(targetPassword);
    const scanned: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const f = path.join(dir, name);
        const st = statSync(f);
        if (st.isDirectory()) walk(f);
        else if (st.isFile()) {
          scanned.push(f);
          assert.equal(readFileSync(f).indexOf(needle), -1, `the password is in ${f}`);
        }
      }
    };
    walk(home.home);
    assert.ok(scanned.some((f) => f.endsWith('-wal')), `a WAL file was scanned: ${scanned.join(', ')}`);
    assert.ok(scanned.some((f) => f.endsWith('.wrec')), 'recordings were scanned');
    for (const p of proxies) assert.equal(p.output().indexOf(targetPassword), -1, 'the password is in a proxy log');
    // The full-disk test's recording lived on its own (now unmounted) file system, scanned there.
    const here = (await a.recordings.list(admin, { limit: 1000 })).filter((r) => r.status !== 'failed');
    assert.ok(here.length >= 8, `${here.length} recordings`);
    for (const r of here) {
      for (const e of await events(r.id)) {
        const bytes = 'data' in e ? (Buffer.isBuffer(e.data) ? e.data : Buffer.from(JSON.stringify(e.data))) : Buffer.alloc(0);
        assert.equal(bytes.indexOf(needle), -1, `the password is in recording ${r.id}`);
      }
    }
  });
});
