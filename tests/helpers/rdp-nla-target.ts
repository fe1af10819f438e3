// A real CredSSP/NLA RDP server for tests: FreeRDP's shadow server on its own Xvfb display, a SAM file with one
// user, a temporary HOME (its TLS certificate lands there), on a free loopback port.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './sshd.js';

export interface NlaTarget {
  port: number;
  /** What the shadow server printed so far (FreeRDP logs why it refused a login). */
  log: () => string;
  stop: () => Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
  });
}

async function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = exited(p);
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await done;
  clearTimeout(t);
}

/**
 * Xvfb on a display number nobody holds: a random one from 200 up (other tests take the low ones), skipped when
 * its lock or socket exists, the next one tried when Xvfb exits (lost a race); ready when -displayfd reports.
 */
async function startXvfb(): Promise<{ display: number; proc: ChildProcess; stderr: () => string }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const n = 200 + Math.floor(Math.random() * 800);
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    const proc = spawn('Xvfb', [`:${n}`, '-displayfd', '3', '-screen', '0', '1024x768x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const ready = await new Promise<boolean>((resolve) => {
      let out = '';
      const t = setTimeout(() => resolve(false), 10_000);
      (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          clearTimeout(t);
          resolve(true);
        }
      });
      proc.once('exit', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (ready) return { display: n, proc, stderr: () => err };
    await kill(proc);
    if (!/already active|Cannot establish any listening sockets/.test(err)) throw new Error(`Xvfb did not start: ${err}`);
  }
  throw new Error('no free X display found');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** `dir` is the test's scratch directory; the SAM file holds `user` (any domain) with `password`'s NT hash. */
export async function startNlaTarget(dir: string, user: string, password: string): Promise<NlaTarget> {
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const sam = path.join(dir, 'sam.txt');
  writeFileSync(sam, execFileSync('winpr-hash', ['-u', user, '-p', password, '-f', 'sam']), { mode: 0o600 });
  // CI once saw the shadow server fail to open its fresh display (cause unknown; the error now says what the X
  // server and its socket looked like then): start over on another display, four times at most.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startShadow(home, sam);
    } catch (e) {
      if (attempt >= 5 || !/failed to open display/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

async function startShadow(home: string, sam: string): Promise<NlaTarget> {
  const x = await startXvfb();
  const port = await freePort();
  const proc = spawn('freerdp-shadow-cli', ['/bind-address:127.0.0.1', `/port:${port}`, '/sec:nla', `/sam-file:${sam}`], {
    env: { ...process.env, HOME: home, DISPLAY: `:${x.display}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const stop = async () => {
    await kill(proc);
    await kill(x.proc);
  };
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      const xState = `Xvfb :${x.display} ${x.proc.exitCode === null ? 'running' : `exited (${x.proc.exitCode})`}, socket ${existsSync(`/tmp/.X11-unix/X${x.display}`) ? 'present' : 'missing'}, its stderr: ${x.stderr().trim() || '(none)'}`;
      await stop();
      throw new Error(`freerdp-shadow-cli did not start: ${log}\n${xState}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, log: () => log, stop };
}
