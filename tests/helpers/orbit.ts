// Run orbit as a deployer does: its own process, flags only, no terminal (CI=true).
import { spawn } from 'node:child_process';
import { ORBIT_MAIN } from './web-daemon.js';

export interface OrbitRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `home` becomes --home; WARDEN_CONFIG is cleared so the config is the one under that home. */
export function runOrbit(home: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<OrbitRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ORBIT_MAIN, '--home', home, ...args], {
      env: { ...process.env, WARDEN_HOME: home, WARDEN_CONFIG: '', CI: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.stdin.end(opts.input ?? '');
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
