// The terminal proxy as systemd runs it (a child process on a free loopback port), a local account on this
// machine for the real sshd target to log in, and real OpenSSH clients (driven by sshpass, or by askpass or a key).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, chmodSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InitializedHome } from './fixtures.js';
import type { Appliance } from '../../appliance/index.js';
import { openRecording, type RecordingEvent } from '../../appliance/recording/index.js';
import { daemonEnv, daemonNodeFlags } from './web-daemon.js';
import { TERMINAL_PROXY_NODE_FLAGS } from '../../appliance/lifecycle/index.js';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PROXY_MAIN = path.join(distRoot, 'daemons', 'terminal-proxy', 'main.js');

export interface RunningProxy {
  proc: ChildProcess;
  port: number;
  output: () => string;
  stop: () => Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startTerminalProxy(home: InitializedHome, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningProxy> {
  return startProxyProcess(home, { main: PROXY_MAIN, name: 'terminal proxy', ready: /warden-terminal-proxy ready: ssh:\/\/[^:]+:(\d+)/, nodeFlags: TERMINAL_PROXY_NODE_FLAGS }, extraEnv);
}

/** A proxy daemon (SSH or RDP) as systemd runs it, on a free loopback port; resolves once it says it is ready. */
export async function startProxyProcess(home: InitializedHome, d: { main: string; name: string; ready: RegExp; nodeFlags?: readonly string[] }, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningProxy> {
  const proc = spawn(process.execPath, [...(d.nodeFlags ?? []), ...daemonNodeFlags(), d.main, '--listen', '127.0.0.1', '--port', '0'], { env: daemonEnv(home, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${d.name} did not become ready:\n${out}`)), 20_000);
    const check = () => {
      const m = d.ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${d.name} exited (${code}) before ready:\n${out}`));
    });
  });
  return {
    proc,
    port,
    output: () => out,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** A local account the sshd target lets in by password (and by `publicKey`, when given). Idempotent. */
export function ensureTargetAccount(name: string, password: string, publicKey?: string): void {
  try {
    execFileSync('id', [name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/sh', name]);
  }
  execFileSync('chpasswd', { input: `${name}:${password}\n` });
  if (publicKey) {
    const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5]!;
    const dir = path.join(home, '.ssh');
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    writeFileSync(path.join(dir, 'authorized_keys'), `${publicKey}\n`);
    chmodSync(path.join(dir, 'authorized_keys'), 0o600);
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
    chownSync(path.join(dir, 'authorized_keys'), uid, gid);
  }
}

/** Options every client run here uses: no known_hosts, no keys, no agent, password only, quiet. */
export const SSH_OPTIONS = [
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'GlobalKnownHostsFile=/dev/null',
  '-o', 'LogLevel=ERROR',
  '-o', 'PubkeyAuthentication=no',
  '-o', 'PreferredAuthentications=password',
  '-o', 'NumberOfPasswordPrompts=1',
  '-o', 'IdentityAgent=none',
  '-F', '/dev/null',
];

export interface ClientRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Run an OpenSSH client (ssh, scp or sftp) with `password` typed by sshpass. `input` is written to its stdin
 * (then closed unless `keepOpen`); `onOutput` sees stdout as it arrives and may answer through `write`.
 */
export function runClient(
  tool: 'ssh' | 'scp' | 'sftp',
  args: string[],
  password: string,
  opts: { input?: string | Buffer; timeoutMs?: number; onOutput?: (all: string, write: (s: string) => void, end: () => void) => void; agentSocket?: string } = {},
): Promise<ClientRun> & { proc: ChildProcess } {
  // `agentSocket`: the client's own agent, for `ssh -A` (IdentityAgent=none would unset SSH_AUTH_SOCK and with
  // it any forwarding); PubkeyAuthentication=no still keeps its keys from the server the client logs in to.
  const options = opts.agentSocket === undefined ? SSH_OPTIONS : SSH_OPTIONS.filter((o, i) => o !== 'IdentityAgent=none' && SSH_OPTIONS[i + 1] !== 'IdentityAgent=none');
  const env = { ...process.env, SSHPASS: password, ...(opts.agentSocket === undefined ? {} : { SSH_AUTH_SOCK: opts.agentSocket }) };
  const proc = spawn('sshpass', ['-e', tool, ...options, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  let seen = '';
  proc.stdin!.on('error', () => {});
  proc.stdout!.on('data', (d: Buffer) => {
    out.push(d);
    seen += d.toString('latin1');
    opts.onOutput?.(seen, (s) => proc.stdin!.write(s), () => proc.stdin!.end());
  });
  proc.stderr!.on('data', (d) => (err += d));
  if (opts.input !== undefined) proc.stdin!.end(opts.input);
  else if (!opts.onOutput) proc.stdin!.end();
  const done = new Promise<ClientRun>((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
  return Object.assign(done, { proc });
}

/**
 * OpenSSH's `ssh` with `args` in `env`, no stdin, run to its end (killed after 30 s): for clients that answer
 * their prompts through SSH_ASKPASS or log in by key, where sshpass has nothing to type.
 */
export function runSsh(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn('ssh', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const RECORDING_READER = { username: 'admin', ip: '127.0.0.1', profile: 'administrator' } as const;

/** A session's recording once the proxy has closed it (it closes after the client is gone): its id and status. */
export async function closedRecording(a: Appliance, sessionId: string): Promise<{ id: string; status: string }> {
  for (let i = 0; i < 100; i++) {
    const r = await a.recordings.bySession(RECORDING_READER, sessionId);
    if (r && r.status !== 'recording') return { id: r.id, status: r.status };
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`the recording of ${sessionId} was not closed`);
}

/** Every event of a recording, decrypted with its data key unwrapped on the appliance's token. */
export async function recordingEvents(a: Appliance, recordingId: string): Promise<RecordingEvent[]> {
  const row = (await a.store.repos.recordings.byId(recordingId))!;
  const rec = await openRecording(path.join(a.recordings.dir, row.file), a.keys!, { wrappedKey: Buffer.from(row.key_sealed, 'base64').subarray(1) });
  const out: RecordingEvent[] = [];
  for await (const e of rec.events()) out.push(e);
  return out;
}
