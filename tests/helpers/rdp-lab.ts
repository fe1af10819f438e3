// The RDP lab every RDP test and bench uses: a real xrdp + xrdp-sesman target (0.9.21, Debian 12) with a local
// account whose desktop is one terminal, and a real FreeRDP client (xfreerdp) on its own Xvfb display, driven
// by xdotool and watched through ffmpeg's x11grab.
//
// Recipe and gotchas (measured with xrdp 0.9.21, TigerVNC 1.12, FreeRDP 2.11 on Debian 12):
// - xrdp finds sesman by reading ListenPort from /etc/xrdp/sesman.ini, a path compiled in (XRDP_CFG_PATH): its
//   own `-c` config cannot point it elsewhere. So each lab runs xrdp in a private mount namespace
//   (`unshare -m`) where our sesman.ini is bind-mounted over /etc/xrdp/sesman.ini, and any number of labs run at
//   once on one machine. Where unshare is refused (no CAP_SYS_ADMIN), the lab falls back to the port the system
//   file names, held by one lab at a time under a machine-wide flock.
// - With `-n` neither xrdp nor sesman writes a PID file; what they share between instances is /run/xrdp/sockdir
//   (per-display socket names) and the X display numbers, so each lab claims its own block of displays.
// - Sessions outlive sesman (it forks, the session child waits on the window manager), and Xvnc sessions are
//   never killed on disconnect (KillDisconnected works only for xorgxrdp): `stop()` takes down the whole process
//   tree, collected before anything is signalled.
// - A wrong password does not drop the connection: xrdp keeps the client connected and paints its own grey
//   "Connection Log" window ("login failed for user ..."). A screen that is "not one colour" is therefore not a
//   desktop; the lab's desktop has a colour nothing else paints (DESKTOP_COLOUR) and the client waits for it.
// - Two clients on one session at once (policy 'Default', same account): the second one's xrdp waits for the
//   session's chansrv, which serves one connection at a time, 4 x 4 s, then goes on without virtual channels:
//   ~18 s of black screen. Concurrent connections want policy 'UBC' (a session each) or separate accounts.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { freePort } from './sshd.js';

const execFileAsync = promisify(execFile);

export type Rgb = readonly [number, number, number];

/** The lab desktop's background: a colour neither xrdp's login and log windows nor a black screen have. */
export const DESKTOP_COLOUR: Rgb = [0x1d, 0x4f, 0x91];
const DESKTOP_HEX = '#1d4f91';

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The path of an executable on PATH or in the sbin directories, or null. */
export function which(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN]) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The terminal the desktop shows: xterm when installed (light, no GL), else zutty (came with chromium's recommends). */
function defaultTerminal(): 'xterm' | 'zutty' | null {
  if (which('xterm')) return 'xterm';
  if (which('zutty')) return 'zutty';
  return null;
}

/** What the lab needs and this machine lacks (empty when everything is there), for `t.skip`. */
export function rdpLabMissing(): string[] {
  const missing = ['xrdp', 'xrdp-sesman', 'Xvnc', 'xfreerdp', 'Xvfb', 'xdotool', 'ffmpeg', 'openssl', 'useradd', 'chpasswd'].filter((b) => !which(b));
  if (!defaultTerminal()) missing.push('xterm (or zutty)');
  return missing;
}

/**
 * The account's password when the caller gives none: the same on every run on this machine, so two checkouts
 * running the same suite at once (each calling chpasswd) do not lock each other out; different per machine.
 */
export function labPassword(user: string): string {
  const machine = existsSync('/etc/machine-id') ? readFileSync('/etc/machine-id', 'utf8').trim() : os.hostname();
  return `Lab-${createHash('sha256').update(`warden-rdp-lab\0${machine}\0${user}`).digest('base64url').slice(0, 20)}`;
}

/** A local account for RDP logins: made once (`useradd -m`), its password set every time. */
export function ensureRdpAccount(user: string, password: string): void {
  const exists = (): boolean => {
    try {
      execFileSync('id', [user], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!exists()) {
    try {
      execFileSync(which('useradd') ?? 'useradd', ['-m', '-s', '/bin/sh', user], { stdio: 'pipe' });
    } catch (e) {
      if (!exists()) throw e; // another run made it between the check and useradd
    }
  }
  execFileSync(which('chpasswd') ?? 'chpasswd', { input: `${user}:${password}\n` });
}

// ---------------------------------------------------------------------------------------------------------
// Processes

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  uid: number;
  /** User + system CPU so far. */
  cpuMs: number;
  rssKiB: number;
}

function readStat(pid: number): { ppid: number; state: string; comm: string; cpuMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      state: fields[0]!,
      ppid: Number(fields[1]),
      cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100,
    };
  } catch {
    return null;
  }
}

function procInfo(pid: number): ProcInfo | null {
  const st = readStat(pid);
  if (!st || st.state === 'Z') return null;
  let uid = -1;
  let rssKiB = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return null;
  }
  return { pid, ppid: st.ppid, comm: st.comm, uid, cpuMs: st.cpuMs, rssKiB };
}

/** `roots` and every living descendant of them (zombies left out: they are gone for our purposes). */
export function processTree(roots: number[]): ProcInfo[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st || st.state === 'Z') continue;
    const list = byParent.get(st.ppid) ?? [];
    list.push(Number(name));
    byParent.set(st.ppid, list);
  }
  const out: ProcInfo[] = [];
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const info = procInfo(pid);
    if (info) out.push(info);
    queue.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

function alive(pid: number): boolean {
  const st = readStat(pid);
  return st !== null && st.state !== 'Z';
}

/** SIGTERM every process, then SIGKILL what is still there after `graceMs`; resolves when all are gone. */
async function terminate(pids: number[], graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  if (pids.some(alive)) {
    signal('SIGKILL');
    const hard = Date.now() + 2000;
    while (pids.some(alive) && Date.now() < hard) await sleep(50);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * spawn(), with the child told (setpriv --pdeathsig) to end when this process dies, so that a test run killed
 * on a timeout does not leave daemons and X servers behind. Kept across exec; not inherited by forks.
 */
function spawnTied(cmd: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  const setpriv = which('setpriv');
  return setpriv ? spawn(setpriv, ['--pdeathsig', 'TERM', '--', cmd, ...args], options) : spawn(cmd, args, options);
}

/** Whether something listens on TCP `port` (v4 or v6), read from /proc so that no probe connection is made. */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

async function waitListening(port: number, what: string, proc: ChildProcess, timeoutMs: number, diagnostics: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!listening(port)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before listening on ${port}\n${diagnostics()}`);
    if (Date.now() > deadline) throw new Error(`${what} not listening on ${port} after ${timeoutMs} ms\n${diagnostics()}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Machine-wide coordination between labs (other test files, other checkouts)

// Displays per lab: sesman looks for a free one from X11DisplayOffset up; two sesmans looking at the same
// numbers at the same moment can both pick one and the second Xvnc fails. Blocks from :1000 up keep clear of
// Xvfb's -displayfd (from :0 up) and put Xvnc's VNC port (5900 + display, loopback) at 6900..10899, below the
// ephemeral range free ports come from.
const DISPLAY_BLOCK_FIRST = 1000;
const DISPLAY_BLOCK_SIZE = 100;
const DISPLAY_BLOCKS = 40;
/** Sessions one lab can hold at once (sesman's MaxSessions; the bench holds 50). */
const MAX_SESSIONS = 60;

const blockFile = (base: number): string => `/tmp/.warden-rdp-lab-displays-${base}`;

/** `dir`: the lab's directory, written into the claim so that whoever finds the claim stale can remove it. */
function claimDisplayBlock(dir: string): { base: number; release: () => void } {
  // A claim whose process is gone (a test run killed on a timeout) is stale: its sessions' X servers are
  // orphans (ending one ends its terminal, then sesman's session child cleans up) and the block is free again.
  for (let k = 0; k < DISPLAY_BLOCKS; k++) {
    const base = DISPLAY_BLOCK_FIRST + k * DISPLAY_BLOCK_SIZE;
    let claim: string[];
    try {
      claim = readFileSync(blockFile(base), 'utf8').split('\n');
    } catch {
      continue;
    }
    const owner = Number(claim[0]);
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      endXvncOn(base, base + DISPLAY_BLOCK_SIZE - 1);
      if (claim[1]?.startsWith(path.join(os.tmpdir(), 'warden-xrdp-'))) rmSync(claim[1], { recursive: true, force: true });
      rmSync(blockFile(base), { force: true });
    }
  }
  const start = Math.floor(Math.random() * DISPLAY_BLOCKS);
  for (let i = 0; i < DISPLAY_BLOCKS; i++) {
    const base = DISPLAY_BLOCK_FIRST + ((start + i) % DISPLAY_BLOCKS) * DISPLAY_BLOCK_SIZE;
    try {
      writeFileSync(blockFile(base), `${process.pid}\n${dir}\n`, { flag: 'wx' });
      return { base, release: () => rmSync(blockFile(base), { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error('no free block of X displays for xrdp sessions');
}

function endXvncOn(first: number, last: number): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      const display = /^:(\d+)$/.exec(argv[1] ?? '');
      if (path.basename(argv[0] ?? '') === 'Xvnc' && display && Number(display[1]) >= first && Number(display[1]) <= last) process.kill(Number(name), 'SIGTERM');
    } catch {
      /* gone, or not ours to read */
    }
  }
}

/**
 * Holds an exclusive flock on `file` in a child (`flock FILE cat`) until released; if this process dies, the
 * child's stdin closes, cat ends and the lock goes with it.
 */
async function machineLock(file: string, timeoutMs: number): Promise<() => Promise<void>> {
  const child = spawn('flock', ['-x', '-w', String(Math.ceil(timeoutMs / 1000)), file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`could not take ${file} (flock exit ${code}): ${err}`)));
  });
  return async () => {
    if (child.exitCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.stdin!.end();
    await done;
  };
}

let unshareWorks: boolean | undefined;
function canUnshareMounts(): boolean {
  if (unshareWorks === undefined) {
    try {
      execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
      unshareWorks = true;
    } catch {
      unshareWorks = false;
    }
  }
  return unshareWorks;
}

function systemSesmanPort(): number {
  try {
    const m = /^\s*ListenPort\s*=\s*(\d+)/m.exec(readFileSync('/etc/xrdp/sesman.ini', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* xrdp's default below */
  }
  return 3350;
}

// ---------------------------------------------------------------------------------------------------------
// The xrdp target

export interface XrdpOptions {
  /** The local account: `wrdp` followed by the suite's own suffix (default `wrdp`). Made if missing. */
  user?: string;
  /** Its password (set with chpasswd); by default `labPassword(user)`. */
  password?: string;
  /**
   * sesman's session policy. 'Default': one session per user, so a second connection re-attaches to the
   * first one's desktop (as a real server does); 'UBC': a new session (Xvnc + terminal) per connection.
   */
  policy?: 'Default' | 'UBC';
  /** The desktop's terminal; xterm when installed. */
  terminal?: 'xterm' | 'zutty';
  /** How this lab's xrdp finds its sesman (see the top of this file); 'namespace' when the machine allows it. */
  isolation?: 'namespace' | 'lock';
}

export interface Xrdp {
  /** xrdp's port on 127.0.0.1 (TLS security layer only). */
  port: number;
  user: string;
  password: string;
  /** The lab's own directory: configs, certificate, key, logs. */
  dir: string;
  /** xrdp's certificate (PEM), self-signed, made for this lab. */
  certificatePem: string;
  sesmanPort: number;
  isolation: 'namespace' | 'lock';
  /** The X displays this lab's sessions may use, [first, last]. */
  displays: [number, number];
  /** From spawning sesman to both daemons listening. */
  startupMs: number;
  /** One daemon's log, or xrdp's then sesman's. */
  log: (daemon?: 'xrdp' | 'sesman') => string;
  /** xrdp, sesman and everything under them (connection children, Xvnc, terminals, chansrv) with CPU and RSS. */
  processes: () => ProcInfo[];
  /**
   * A new self-signed certificate and key, and xrdp restarted on the same port with them (sessions stay): the
   * same target presenting another certificate, for pinning tests. `certificatePem` changes with it.
   */
  renewCertificate: () => Promise<void>;
  /**
   * Ends every session (Xvnc, terminal, chansrv) and leaves xrdp and sesman running: sessions of Xvnc are never
   * ended on disconnect, so a run that connects many times with policy 'UBC' calls this to keep memory down.
   */
  endSessions: () => Promise<void>;
  stop: () => Promise<void>;
}

function sessionScript(terminal: 'xterm' | 'zutty'): string {
  // The first line names the account, so a screenshot shows whose desktop it is; then an interactive shell.
  const shell = `/bin/sh -c 'echo "Warden RDP lab: $(id -un)"; exec /bin/sh -i'`;
  const command =
    terminal === 'xterm'
      ? `exec xterm -maximized -b 0 -bw 0 -bg '${DESKTOP_HEX}' -fg white -cr white -fa 'DejaVu Sans Mono' -fs 11 -title 'Warden RDP lab' -e ${shell}`
      : // zutty cannot maximize itself: size it in cells (about 10 x 20 pixels at its default 16 px) from the screen sesman made
        `exec zutty -quiet -font DejaVuSansMono -geometry "$(( \${XRDP_START_WIDTH:-1024} / 10 ))x$(( \${XRDP_START_HEIGHT:-768} / 20 ))" -bg '${DESKTOP_HEX}' -fg '#ffffff' -title 'Warden RDP lab' -e ${shell}`;
  return ['#!/bin/sh', '# The lab desktop (written by tests/helpers/rdp-lab.ts): one terminal filling the screen.', 'cd "$HOME" || exit 1', 'export LANG=C.UTF-8', `${command} >"$HOME/.warden-rdp-lab.log" 2>&1`, ''].join('\n');
}

export async function startXrdp(opts: XrdpOptions = {}): Promise<Xrdp> {
  const missing = rdpLabMissing();
  if (missing.length) throw new Error(`the RDP lab needs: ${missing.join(', ')}`);
  const user = opts.user ?? 'wrdp';
  if (!/^wrdp[a-z0-9_-]{0,24}$/.test(user)) throw new Error(`lab accounts are named wrdp + a short suffix, not ${JSON.stringify(user)}`);
  const password = opts.password ?? labPassword(user);
  const terminal = opts.terminal ?? defaultTerminal()!;
  const isolation = opts.isolation ?? (canUnshareMounts() ? 'namespace' : 'lock');
  ensureRdpAccount(user, password);

  const cleanups: (() => Promise<void> | void)[] = [];
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-xrdp-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const stop = async (): Promise<void> => {
    const roots = procs.map((p) => p.pid!).filter(Boolean);
    const tree = processTree(roots).map((p) => p.pid);
    await terminate(tree);
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        /* keep cleaning */
      }
    }
  };
  try {
    // The session script runs as the account: the directory must let it through (the key stays 0600).
    chmodSync(dir, 0o711);
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const makeCertificate = (): void => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
      chmodSync(key, 0o600);
    };
    makeCertificate();
    mkdirSync('/run/xrdp/sockdir', { recursive: true });
    chmodSync('/run/xrdp/sockdir', 0o1777);

    const block = claimDisplayBlock(dir);
    cleanups.push(block.release);
    const displays: [number, number] = [block.base, block.base + MAX_SESSIONS];
    cleanups.push(() => cleanDisplays(displays, user));

    let sesmanPort: number;
    if (isolation === 'lock') {
      sesmanPort = systemSesmanPort();
      mkdirSync('/run/lock', { recursive: true });
      const release = await machineLock('/run/lock/warden-rdp-lab-sesman.lock', 600_000);
      cleanups.push(release);
      if (listening(sesmanPort)) throw new Error(`port ${sesmanPort} (from /etc/xrdp/sesman.ini) is taken: is the system's xrdp-sesman running?`);
    } else {
      sesmanPort = await freePort();
    }
    const port = await freePort();

    const script = path.join(dir, 'session.sh');
    writeFileSync(script, sessionScript(terminal), { mode: 0o755 });
    const sesmanIni = path.join(dir, 'sesman.ini');
    writeFileSync(
      sesmanIni,
      [
        '[Globals]', 'ListenAddress=127.0.0.1', `ListenPort=${sesmanPort}`, 'EnableUserWindowManager=false', `DefaultWindowManager=${script}`, 'ReconnectScript=/bin/true',
        '[Security]', 'AllowRootLogin=false', 'MaxLoginRetry=4', 'AlwaysGroupCheck=false',
        '[Sessions]', `X11DisplayOffset=${block.base}`, `MaxSessions=${MAX_SESSIONS}`, 'KillDisconnected=false', 'DisconnectedTimeLimit=0', 'IdleTimeLimit=0', `Policy=${opts.policy ?? 'Default'}`,
        '[Logging]', `LogFile=${path.join(dir, 'sesman.log')}`, 'LogLevel=INFO', 'EnableSyslog=false',
        '[Xvnc]', 'param=Xvnc', 'param=-bs', 'param=-nolisten', 'param=tcp', 'param=-localhost', 'param=-dpi', 'param=96',
        '[Chansrv]', 'FuseMountName=thinclient_drives', 'EnableFuseMount=false',
        '[ChansrvLogging]', 'LogLevel=WARNING', 'EnableSyslog=false', '',
      ].join('\n'),
    );
    const xrdpIni = path.join(dir, 'xrdp.ini');
    writeFileSync(
      xrdpIni,
      [
        '[Globals]', 'ini_version=1', 'fork=true', `port=tcp://127.0.0.1:${port}`, 'tcp_nodelay=true', 'tcp_keepalive=true',
        'security_layer=tls', 'crypt_level=none', `certificate=${cert}`, `key_file=${key}`, 'ssl_protocols=TLSv1.2, TLSv1.3',
        'autorun=Xvnc', 'allow_channels=true', 'allow_multimon=true', 'bitmap_cache=true', 'bitmap_compression=true', 'bulk_compression=true',
        'max_bpp=32', 'new_cursors=true', 'use_fastpath=both',
        '[Logging]', `LogFile=${path.join(dir, 'xrdp.log')}`, 'LogLevel=INFO', 'EnableSyslog=false',
        '[Channels]', 'rdpdr=true', 'rdpsnd=true', 'drdynvc=true', 'cliprdr=true', 'rail=true', 'xrdpvr=true', 'tcutils=true',
        '[Xvnc]', 'name=Xvnc', 'lib=libvnc.so', 'username=ask', 'password=ask', 'ip=127.0.0.1', 'port=-1', '',
      ].join('\n'),
    );
    const log = (daemon?: 'xrdp' | 'sesman'): string =>
      (daemon ? [daemon] : ['xrdp', 'sesman']).map((f) => (existsSync(path.join(dir, `${f}.log`)) ? readFileSync(path.join(dir, `${f}.log`), 'utf8') : '')).join('');
    const output: string[] = [];
    const diagnostics = (): string => `${output.join('')}\n${log().split('\n').slice(-30).join('\n')}`;
    const launch = (cmd: string, args: string[]): ChildProcess => {
      const p = spawnTied(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (d) => output.push(String(d)));
      p.stderr!.on('data', (d) => output.push(String(d)));
      procs.push(p);
      return p;
    };

    const t0 = performance.now();
    const sesman = launch(which('xrdp-sesman')!, ['-n', '-c', sesmanIni]);
    await waitListening(sesmanPort, 'xrdp-sesman', sesman, 10_000, diagnostics);
    const xrdpBin = which('xrdp')!;
    const startDaemon = async (): Promise<ChildProcess> => {
      const p =
        isolation === 'namespace'
          ? launch('unshare', ['-m', '--', 'sh', '-c', 'mount --bind "$1" /etc/xrdp/sesman.ini && exec "$2" -n -c "$3"', 'sh', sesmanIni, xrdpBin, xrdpIni])
          : launch(xrdpBin, ['-n', '-c', xrdpIni]);
      await waitListening(port, 'xrdp', p, 10_000, diagnostics);
      return p;
    };
    let xrdp = await startDaemon();
    const startupMs = performance.now() - t0;

    const lab: Xrdp = {
      port,
      user,
      password,
      dir,
      certificatePem: readFileSync(cert, 'utf8'),
      sesmanPort,
      isolation,
      displays,
      startupMs,
      log,
      processes: () => processTree(procs.map((p) => p.pid!).filter(Boolean)),
      renewCertificate: async () => {
        // xrdp and its connection children go; sessions live under sesman and stay, as on a real server.
        await terminate(processTree([xrdp.pid!]).map((p) => p.pid));
        procs.splice(procs.indexOf(xrdp), 1);
        makeCertificate();
        xrdp = await startDaemon();
        lab.certificatePem = readFileSync(cert, 'utf8');
      },
      endSessions: async () => {
        await terminate(processTree([sesman.pid!]).map((p) => p.pid).filter((pid) => pid !== sesman.pid));
        cleanDisplays(displays, user);
      },
      stop,
    };
    return lab;
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What a killed session can leave behind on the shared machine, for this lab's displays only. */
function cleanDisplays([first, last]: [number, number], user: string): void {
  const home = (() => {
    try {
      return execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5] ?? null;
    } catch {
      return null;
    }
  })();
  for (let d = first; d <= last; d++) {
    const lock = `/tmp/.X${d}-lock`;
    if (existsSync(lock)) {
      const owner = Number(readFileSync(lock, 'utf8').trim());
      if (owner > 0 && alive(owner)) continue; // not ours to clean (yet)
      rmSync(lock, { force: true });
    }
    rmSync(`/tmp/.X11-unix/X${d}`, { force: true });
    for (const f of ['xrdp_display_', 'xrdp_disconnect_display_', 'xrdp_chansrv_socket_', 'xrdpapi_', 'xrdp_chansrv_audio_out_socket_', 'xrdp_chansrv_audio_in_socket_']) {
      rmSync(`/run/xrdp/sockdir/${f}${d}`, { force: true });
    }
  }
  if (home && existsSync(path.join(home, '.vnc'))) {
    for (const f of readdirSync(path.join(home, '.vnc'))) {
      const m = /:(\d+)$/.exec(f);
      if (f.startsWith('sesman_passwd-') && m && Number(m[1]) >= first && Number(m[1]) <= last) {
        try {
          unlinkSync(path.join(home, '.vnc', f));
        } catch {
          /* gone */
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The FreeRDP client

export interface RdpClientOptions {
  /** The port on 127.0.0.1 (`/v:`); may be left out when `rdpFile` gives the address. */
  port?: number;
  /** An .rdp file, given to xfreerdp before the other arguments (which override what it says). */
  rdpFile?: string;
  user?: string;
  password?: string;
  /** More xfreerdp arguments (e.g. `/d:DOMAIN`, `/load-balance-info:...`, `/sec:nla`). */
  extra?: string[];
  /** Replaces the default `/sec:tls` (e.g. ['/sec:nla']); [] for none. */
  security?: string[];
  width?: number;
  height?: number;
}

export interface Frame {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, rows top to bottom. */
  data: Buffer;
}

export interface DesktopWait {
  /**
   * The colour that says "the desktop is showing" (at least `fraction` of the screen within ±8 a channel);
   * the lab's DESKTOP_COLOUR by default; null to accept any screen that is not one colour (other targets).
   */
  colour?: Rgb | null;
  /** Default 0.5. */
  fraction?: number;
}

export interface RdpClient {
  /** The client's X display (`:N`), its Xvfb sized to the session. */
  display: string;
  proc: ChildProcess;
  /** performance.now() when xfreerdp was spawned. */
  spawnedAt: number;
  /** A PNG of the client's screen (the remote desktop; the local pointer left out). */
  screenshot: (file: string) => Promise<void>;
  /** The same, as raw RGB. */
  frame: () => Promise<Frame>;
  /** Types text into the session (xdotool, X keysyms through xfreerdp's keyboard). */
  type: (text: string) => Promise<void>;
  /** One key or chord by X keysym name: `Return`, `ctrl+c`. */
  key: (name: string) => Promise<void>;
  /**
   * Resolves with the milliseconds from spawning xfreerdp to the first frame that shows the desktop (the
   * window exists and the screen is not one colour and, by default, is mostly DESKTOP_COLOUR); rejects on
   * timeout or if xfreerdp exits first.
   */
  waitForDesktop: (timeoutMs?: number, wait?: DesktopWait) => Promise<number>;
  /** xfreerdp's exit code (its signal as 128 + n). */
  exited: Promise<number>;
  /** xfreerdp's stdout and stderr so far. */
  output: () => string;
  /** xfreerdp's and its Xvfb's process ids (for the bench's CPU and memory figures). */
  pids: () => number[];
  stop: () => Promise<void>;
}

/** Starts Xvfb on the first free display (-displayfd: the server picks and locks it, no race with others). */
async function startXvfb(width: number, height: number): Promise<{ proc: ChildProcess; display: string }> {
  const proc = spawnTied(which('Xvfb')!, ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp', '-br', '-noreset'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb gave no display in 10 s: ${err}`)), 10_000);
    (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${out.trim()}`);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}): ${err}`));
    });
  });
  return { proc, display };
}

function ffmpegGrab(display: string, width: number, height: number, out: string[], input: string[] = []): string[] {
  return ['-loglevel', 'error', '-f', 'x11grab', '-draw_mouse', '0', ...input, '-video_size', `${width}x${height}`, '-i', `${display}+0,0`, ...out];
}

/** Whether a frame shows the desktop: more than one colour, and enough of `colour` when one is asked for. */
export function showsDesktop(frame: Frame, wait: DesktopWait = {}): boolean {
  const colour = wait.colour === undefined ? DESKTOP_COLOUR : wait.colour;
  const fraction = wait.fraction ?? 0.5;
  const d = frame.data;
  let varied = false;
  let matching = 0;
  const pixels = frame.width * frame.height;
  for (let i = 0; i < pixels * 3; i += 3) {
    if (!varied && (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2])) varied = true;
    if (colour && Math.abs(d[i]! - colour[0]) <= 8 && Math.abs(d[i + 1]! - colour[1]) <= 8 && Math.abs(d[i + 2]! - colour[2]) <= 8) matching++;
  }
  return varied && (!colour || matching >= fraction * pixels);
}

export async function startRdpClient(opts: RdpClientOptions): Promise<RdpClient> {
  const width = opts.width ?? 1024;
  const height = opts.height ?? 768;
  const home = mkdtempSync(path.join(os.tmpdir(), 'warden-xfreerdp-'));
  let xvfb: { proc: ChildProcess; display: string };
  try {
    xvfb = await startXvfb(width, height);
  } catch (e) {
    rmSync(home, { recursive: true, force: true });
    throw e;
  }
  const { display } = xvfb;
  // Its own HOME: FreeRDP keeps known hosts and settings under ~/.config/freerdp, not to be shared between runs.
  const env = { ...process.env, DISPLAY: display, HOME: home };
  const args = [...(opts.rdpFile ? [opts.rdpFile] : []), ...(opts.port === undefined ? [] : [`/v:127.0.0.1:${opts.port}`]), ...(opts.user === undefined ? [] : [`/u:${opts.user}`]), ...(opts.password === undefined ? [] : [`/p:${opts.password}`]), ...(opts.security ?? ['/sec:tls']), '/cert:ignore', `/size:${width}x${height}`, ...(opts.extra ?? [])];
  const spawnedAt = performance.now();
  const proc = spawnTied(which('xfreerdp')!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));

  const xdotool = async (args: string[]): Promise<void> => {
    await execFileAsync(which('xdotool')!, args, { env });
  };

  const frame = async (): Promise<Frame> => {
    const { stdout } = await execFileAsync(which('ffmpeg')!, ffmpegGrab(display, width, height, ['-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']), { env, encoding: 'buffer', maxBuffer: width * height * 3 + 1024 });
    return { width, height, data: stdout };
  };

  const windowExists = async (): Promise<boolean> => {
    try {
      const { stdout } = await execFileAsync(which('xdotool')!, ['search', '--name', '^FreeRDP'], { env });
      return stdout.trim().length > 0;
    } catch {
      return false; // xdotool search exits 1 when nothing matches
    }
  };

  const waitForDesktop = async (timeoutMs = 30_000, wait: DesktopWait = {}): Promise<number> => {
    const deadline = performance.now() + timeoutMs;
    let gone = false;
    void exited.then(() => (gone = true));
    const fail = (why: string): Error => new Error(`no desktop: ${why}\nxfreerdp: ${output.slice(-2000)}`);
    while (!(await windowExists())) {
      if (gone) throw fail(`xfreerdp exited (${proc.exitCode ?? proc.signalCode}) before opening its window`);
      if (performance.now() > deadline) throw fail(`no xfreerdp window after ${timeoutMs} ms`);
      await sleep(25);
    }
    // Frames at 20/s, shrunk (area average keeps colours and keeps text from vanishing) so checking is cheap.
    const w = 256;
    const h = Math.round((height * w) / width);
    const grab = spawn(which('ffmpeg')!, ffmpegGrab(display, width, height, ['-vf', `scale=${w}:${h}:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], ['-framerate', '20']), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      return await new Promise<number>((resolve, reject) => {
        const size = w * h * 3;
        let buf = Buffer.alloc(0);
        let seen = 0;
        const timer = setInterval(() => {
          if (gone) reject(fail(`xfreerdp exited (${proc.exitCode ?? proc.signalCode}) after ${seen} frames`));
          else if (performance.now() > deadline) reject(fail(`${seen} frames in ${timeoutMs} ms, none showing the desktop`));
        }, 50);
        grab.stdout!.on('data', (d: Buffer) => {
          const at = performance.now();
          buf = Buffer.concat([buf, d]);
          while (buf.length >= size) {
            const data = buf.subarray(0, size);
            buf = buf.subarray(size);
            seen++;
            if (showsDesktop({ width: w, height: h, data }, wait)) {
              clearInterval(timer);
              resolve(at - spawnedAt);
              return;
            }
          }
        });
        grab.once('exit', (code) => {
          clearInterval(timer);
          reject(fail(`ffmpeg x11grab ended (${code})`));
        });
      });
    } finally {
      grab.kill('SIGKILL');
    }
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await terminate([proc.pid!, xvfb.proc.pid!].filter(Boolean), 2000);
    rmSync(home, { recursive: true, force: true });
  };

  return {
    display,
    proc,
    spawnedAt,
    screenshot: async (file) => {
      await execFileAsync(which('ffmpeg')!, ffmpegGrab(display, width, height, ['-frames:v', '1', '-y', file]), { env });
    },
    frame,
    type: (text) => xdotool(['type', '--delay', '25', '--', text]),
    key: (name) => xdotool(['key', '--', name]),
    waitForDesktop,
    exited,
    output: () => output,
    pids: () => [proc.pid, xvfb.proc.pid].filter((p): p is number => p !== undefined),
    stop,
  };
}

/**
 * Spawns a client, waits for the desktop and stops it: the milliseconds from spawn to desktop. The same call
 * for a direct (xrdp's port) and a proxied (the proxy's port, Warden user and password) run.
 */
export async function timeToDesktop(opts: RdpClientOptions & { timeoutMs?: number; wait?: DesktopWait }): Promise<number> {
  const client = await startRdpClient(opts);
  try {
    return await client.waitForDesktop(opts.timeoutMs ?? 30_000, opts.wait);
  } finally {
    await client.stop();
  }
}

/** A name no other run uses, for files a test makes the target create. */
export function uniqueName(prefix = 'wrdp-probe'): string {
  return `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`;
}
