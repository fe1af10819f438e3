#!/usr/bin/env node
// The local supervisor behind `make run`: initializes the state directory on first start (first admin and
// one-time password), runs each daemon as its own process as systemd does on the appliance, prints where to
// connect once they are ready, and stops them all cleanly on Ctrl-C. It imports no daemon: it starts them.
// Ports: 8443/8080, SSH 2222 and RDP 3389 unless WARDEN_RUN_HTTPS_PORT / WARDEN_RUN_HTTP_PORT /
// WARDEN_RUN_SSH_PORT / WARDEN_RUN_RDP_PORT say otherwise (0 = any free port).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializeAppliance } from '../../appliance/provision/index.js';
import { configPath, homePath, restrictUmask, writePrivateFile } from '../../appliance/config/index.js';
import { splitMasterKey } from '../../appliance/backup/index.js';
import { TERMINAL_PROXY_NODE_FLAGS } from '../../appliance/lifecycle/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Daemon {
  name: string;
  entry: string;
  args?: string[];
  /** Node's own flags, before the entry (as its systemd unit starts it). */
  nodeFlags?: readonly string[];
  /** The line a daemon prints when it is ready, and what to tell the user from it. */
  ready: RegExp;
  describe: (m: RegExpExecArray) => string;
}

function daemons(sshPort: number, rdpPort: number): Daemon[] {
  return [
    {
      name: 'web',
      entry: path.join(here, '..', 'web', 'main.js'),
      ready: /warden-web ready: (https:\/\/\S+) \(http (\d+) redirects\)/,
      describe: (m) => `web:   ${m[1]}  (http on port ${m[2]} redirects; the certificate is self-signed)`,
    },
    {
      name: 'terminal-proxy',
      entry: path.join(here, '..', 'terminal-proxy', 'main.js'),
      nodeFlags: TERMINAL_PROXY_NODE_FLAGS,
      // Loopback and a high port whatever an older ./var's config says (it may predate the proxy: 0.0.0.0:22).
      args: ['--listen', '127.0.0.1', '--port', String(sshPort)],
      ready: /warden-terminal-proxy ready: ssh:\/\/([^:\s]+):(\d+)/,
      describe: (m) => `ssh:   ssh -p ${m[2]} USER@${m[1]}  (a menu; or USER:CREDENTIAL@DEVICE@${m[1]} straight to a device)`,
    },
    {
      name: 'rdp-proxy',
      entry: path.join(here, '..', 'rdp-proxy', 'main.js'),
      args: ['--listen', '127.0.0.1', '--port', String(rdpPort)],
      ready: /warden-rdp-proxy ready: rdp:\/\/([^:\s]+):(\d+)/,
      describe: (m) => `rdp:   xfreerdp /v:${m[1]}:${m[2]} /u:USER@DEVICE /sec:tls  (or the .rdp file the web's "connect" gives)`,
    },
  ];
}

function port(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number`);
  return n;
}

async function main(): Promise<void> {
  // State files 0600 whatever the developer's umask; the daemons started from here inherit it.
  restrictUmask();
  const env = { ...process.env };
  env.WARDEN_HOME ||= path.resolve('var');
  const home = homePath(env);
  const configFile = configPath(env);
  env.WARDEN_CONFIG = configFile;
  const sshPort = port('WARDEN_RUN_SSH_PORT', 2222);
  const rdpPort = port('WARDEN_RUN_RDP_PORT', 3389);
  const DAEMONS = daemons(sshPort, rdpPort);
  let firstStart: { user: string; password: string } | undefined;
  if (!existsSync(configFile)) {
    process.stdout.write(`first start: initializing ${home}\n`);
    const r = await initializeAppliance({
      home,
      configFile,
      adminUsername: 'admin',
      web: { listen: '127.0.0.1', httpsPort: port('WARDEN_RUN_HTTPS_PORT', 8443), httpPort: port('WARDEN_RUN_HTTP_PORT', 8080), publicHost: '127.0.0.1' },
      terminalProxy: { listen: '127.0.0.1', port: sshPort },
      rdpProxy: { listen: '127.0.0.1', port: rdpPort },
      progress: (line) => process.stdout.write(`  ${line}...\n`),
      // Local runs keep the custodian shares beside the state (a real deployment hands them out: orbit init).
      onMasterKey: async (material, applianceId) => {
        const shares = await splitMasterKey(material, { custodians: 3, threshold: 2, applianceId });
        shares.forEach((text, i) => writePrivateFile(path.join(home, 'custodian-shares', `share-${i + 1}-of-3.txt`), text));
      },
    });
    firstStart = { user: r.adminUsername, password: r.oneTimePassword };
  }

  const children = new Map<string, ChildProcess>();
  const readyLines = new Map<string, string>();
  let stopping = false;
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const c of children.values()) c.kill('SIGTERM');
    if (children.size === 0) process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  const banner = () => {
    process.stdout.write('\nWarden is running locally:\n');
    for (const line of readyLines.values()) process.stdout.write(`  ${line}\n`);
    process.stdout.write(`  state: ${home}\n`);
    if (firstStart) {
      process.stdout.write(`  first administrator: ${firstStart.user}\n`);
      process.stdout.write(`  one-time password:   ${firstStart.password}   (you must change it at first login)\n`);
    } else {
      process.stdout.write('  already initialized: log in with your administrator account (`rm -rf var` starts over)\n');
    }
    process.stdout.write('Press Ctrl-C to stop.\n\n');
  };

  for (const d of DAEMONS) {
    const child = spawn(process.execPath, [...(d.nodeFlags ?? []), d.entry, ...(d.args ?? [])], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    children.set(d.name, child);
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const m = d.ready.exec(pending);
      if (m && !readyLines.has(d.name)) {
        readyLines.set(d.name, d.describe(m));
        pending = '';
        if (readyLines.size === DAEMONS.length) banner();
      }
      if (pending.length > 65536) pending = pending.slice(-4096);
    });
    child.on('exit', (code, signal) => {
      children.delete(d.name);
      if (!stopping) {
        process.stderr.write(`warden-${d.name} exited (${signal ?? code}); stopping\n`);
        stop(1);
      } else if (children.size === 0) process.exit(process.exitCode ?? 0);
    });
  }
}

main().catch((e) => {
  process.stderr.write(`make run: ${(e as Error).message}\n`);
  process.exit(1);
});
