// A real OpenSSH server for tests: its own host key and config, on a free loopback port.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'ssh2';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Sshd {
  port: number;
  proc: ChildProcess;
  stop: () => Promise<void>;
}

/** `extraConfig`: more sshd_config lines (e.g. `AllowAgentForwarding no`); sshd keeps the first value it reads. */
export async function startSshd(dir: string, opts: { extraConfig?: string[] } = {}): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${path.join(dir, 'sshd.pid')}`, 'UsePAM no', 'StrictModes no', 'Subsystem sftp internal-sftp', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', ...(opts.extraConfig ?? []), ''].join('\n'),
  );
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Whether `password` logs `user` in on the sshd at `port` now (a plain ssh2 password login, no keyboard-interactive). */
export function passwordLogsIn(port: number, user: string, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new Client();
    c.on('ready', () => (c.end(), resolve(true)));
    c.on('error', () => resolve(false));
    c.connect({ host: '127.0.0.1', port, username: user, password, tryKeyboard: false, readyTimeout: 10_000 });
  });
}
