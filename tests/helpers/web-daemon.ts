// Start the real web daemon (a child process, as systemd would) on free loopback ports, and talk to it
// over real HTTPS with the appliance's own certificate as the only trusted CA.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializedHome, strongPassword, type InitializedHome } from './fixtures.js';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_MAIN = path.join(distRoot, 'daemons', 'web', 'main.js');
export const ORBIT_MAIN = path.join(distRoot, 'cli', 'orbit', 'main.js');

export interface RunningDaemon {
  proc: ChildProcess;
  httpsPort: number;
  httpPort: number;
  ca: Buffer;
  output: () => string;
  /** SIGTERM and wait: resolves with the exit code. */
  stop: () => Promise<number | null>;
  exited: Promise<number | null>;
}

export function daemonEnv(home: InitializedHome, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile, NOTIFY_SOCKET: '', ...extra };
}

/**
 * Node flags for the daemon's process, from WARDEN_DAEMON_NODE_FLAGS (space-separated): for profiling a daemon
 * under a benchmark or test (`--cpu-prof --cpu-prof-dir=...`), which NODE_OPTIONS does not accept.
 */
export function daemonNodeFlags(): string[] {
  return (process.env.WARDEN_DAEMON_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
}

export async function startWebDaemon(home: InitializedHome, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningDaemon> {
  const proc = spawn(process.execPath, [...daemonNodeFlags(), WEB_MAIN], { env: daemonEnv(home, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const ports = await new Promise<{ httpsPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`web daemon did not become ready:\n${out}`)), 20_000);
    const check = () => {
      const m = /warden-web ready: https:\/\/[^:]+:(\d+)\/ \(http (\d+) redirects\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ httpsPort: Number(m[1]), httpPort: Number(m[2]) });
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`web daemon exited (${code}) before ready:\n${out}`));
    });
  });
  return {
    proc,
    ...ports,
    ca: readFileSync(path.join(home.home, 'tls', 'web.crt')),
    output: () => out,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape, asserted by tests
}

export function httpsRequest(
  d: Pick<RunningDaemon, 'httpsPort' | 'ca'>,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string },
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: d.httpsPort,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers,
        ca: d.ca,
        agent: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = body ? JSON.parse(body) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A browser-like API client: keeps the session cookie and sends the CSRF token on changes. */
export class ApiClient {
  cookie = '';
  csrf = '';
  constructor(
    readonly d: Pick<RunningDaemon, 'httpsPort' | 'ca'>,
    readonly localAddress?: string,
  ) {}

  async call(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.cookie) headers.cookie = this.cookie;
    if (method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const res = await httpsRequest(this.d, { method, path, headers, ...(payload !== undefined ? { body: payload } : {}), ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
    const set = res.headers['set-cookie'];
    if (set) for (const c of set) this.cookie = c.split(';')[0]!.endsWith('=') ? '' : c.split(';')[0]!;
    if (res.json?.csrfToken) this.csrf = res.json.csrfToken;
    return res;
  }

  login(username: string, password: string): Promise<HttpResponse> {
    return this.call('POST', '/api/v1/auth/login', { username, password });
  }

  /** Log in with a one-time password and change it; returns the new password. */
  async loginAndChange(username: string, oneTime: string, next: string): Promise<void> {
    const r = await this.login(username, oneTime);
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.body}`);
    const c = await this.call('POST', '/api/v1/me/password', { currentPassword: oneTime, newPassword: next });
    if (c.status !== 204) throw new Error(`password change failed: ${c.status} ${c.body}`);
  }
}

export function httpGet(port: number, path: string, method = 'GET'): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A web daemon on a fresh appliance (or on `home`, whose first administrator has not signed in yet), its first
 * administrator signed in (the one-time password changed). `beforeStart` may edit the home (its config file)
 * before the daemon reads it.
 */
export async function daemonWithAdmin(opts: { beforeStart?: (home: InitializedHome) => void | Promise<void>; home?: InitializedHome } = {}): Promise<{ home: InitializedHome; d: RunningDaemon; admin: ApiClient; adminPassword: string }> {
  const home = opts.home ?? (await initializedHome());
  await opts.beforeStart?.(home);
  const d = await startWebDaemon(home);
  const admin = new ApiClient(d);
  const adminPassword = strongPassword();
  await admin.loginAndChange('admin', home.oneTimePassword, adminPassword);
  return { home, d, admin, adminPassword };
}

/**
 * Accounts made through the API by `admin`, each signed in on its own client (password changed): filled into
 * `clients` and `ids` by name.
 */
export async function signInAccounts(
  admin: ApiClient,
  d: RunningDaemon,
  accounts: readonly (readonly [name: string, profile: string])[],
  clients: Record<string, ApiClient>,
  ids: Record<string, number>,
  passwords: Record<string, string> = {},
): Promise<void> {
  for (const [name, profile] of accounts) {
    const r = await admin.call('POST', '/api/v1/users', { username: name, fullName: name, email: `${name}@example.test`, profile });
    if (r.status !== 201) throw new Error(`creating ${name}: ${r.status} ${r.body}`);
    ids[name] = r.json.user.id;
    clients[name] = new ApiClient(d);
    passwords[name] = strongPassword();
    await clients[name]!.loginAndChange(name, r.json.oneTimePassword, passwords[name]!);
  }
}
