// The web daemon as systemd sees it: READY=1 only once store and token are open, RELOADING=1 on SIGHUP,
// STOPPING=1 on SIGTERM; and no start at all without its token (fail closed).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initializedHome, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { WEB_MAIN, daemonEnv, startWebDaemon } from '../helpers/web-daemon.js';

/** A systemd-style notify socket: python3 binds a unix datagram socket and prints what arrives. */
function notifySocket(file: string): { proc: ChildProcess; messages: () => string; ready: Promise<void> } {
  const script = [
    'import socket, sys',
    'sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `sock.bind(${JSON.stringify(file)})`,
    'print("LISTENING", flush=True)',
    'while True:',
    '    data = sock.recv(4096)',
    '    print(data.decode().replace("\\n", "|"), flush=True)',
  ].join('\n');
  const proc = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve) =>
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('LISTENING')) resolve();
    }),
  );
  return { proc, messages: () => out, ready };
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runToExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [WEB_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('web daemon lifecycle', () => {
  let home: InitializedHome;
  const sockDir = tempDir('warden-notify-');
  before(async () => {
    home = await initializedHome();
  });
  after(() => {
    home?.cleanup();
    sockDir.cleanup();
  });

  test('READY=1 after start, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM', async () => {
    const file = path.join(sockDir.dir, 'notify.sock');
    const listener = notifySocket(file);
    await listener.ready;
    try {
      const d = await startWebDaemon(home, { NOTIFY_SOCKET: file });
      await until(() => listener.messages().includes('READY=1'), 'READY=1');
      assert.match(listener.messages(), /MAINPID=\d+/);
      d.proc.kill('SIGHUP');
      await until(() => listener.messages().includes('RELOADING=1'), 'RELOADING=1');
      assert.equal(await d.stop(), 0);
      assert.match(listener.messages(), /STOPPING=1/);
    } finally {
      listener.proc.kill();
      rmSync(file, { force: true });
    }
  });

  test('with a wrong token PIN the daemon refuses to start and says why', async () => {
    const pinFile = path.join(home.home, 'keys', 'token.pin');
    const pin = readFileSync(pinFile);
    writeFileSync(pinFile, 'wrong-pin\n');
    try {
      const r = await runToExit(daemonEnv(home));
      assert.equal(r.code, 1);
      assert.match(r.out, /KEYS_PIN_INCORRECT/);
      assert.doesNotMatch(r.out, /ready/);
      assert.doesNotMatch(r.out, /wrong-pin/, 'the PIN never reaches the log');
    } finally {
      writeFileSync(pinFile, pin);
    }
  });

  test('with the token gone the daemon refuses to start', async () => {
    const conf = path.join(home.home, 'keys', 'softhsm2.conf');
    const original = readFileSync(conf);
    writeFileSync(conf, `directories.tokendir = ${path.join(sockDir.dir, 'empty-tokens')}\nobjectstore.backend = file\n`);
    mkdirSync(path.join(sockDir.dir, 'empty-tokens'), { recursive: true });
    try {
      const r = await runToExit(daemonEnv(home));
      assert.equal(r.code, 1);
      assert.match(r.out, /KEYS_TOKEN_MISSING/);
    } finally {
      writeFileSync(conf, original);
    }
  });

  test('without a configuration it says to run orbit init', async () => {
    const empty = tempDir();
    try {
      const r = await runToExit({ ...process.env, WARDEN_HOME: empty.dir, WARDEN_CONFIG: '' });
      assert.equal(r.code, 1);
      assert.match(r.out, /orbit init/);
    } finally {
      empty.cleanup();
    }
  });
});
