#!/usr/bin/env node
// The local supervisor behind `make run`: initializes ./var on first start (printing the first admin's
// one-time password), then runs each daemon as its own process, as systemd does on the appliance.
// Ctrl-C stops them all cleanly. It imports no daemon: it starts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializeAppliance } from '../../appliance/provision/index.js';
import { configPath, homePath } from '../../appliance/config/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DAEMONS = [{ name: 'web', entry: path.join(here, '..', 'web', 'main.js') }];

async function main(): Promise<void> {
  const env = { ...process.env };
  env.WARDEN_HOME ??= path.resolve('var');
  const home = homePath(env);
  const configFile = configPath(env);
  env.WARDEN_CONFIG = configFile;
  let firstStart: { user: string; password: string } | undefined;
  if (!existsSync(configFile)) {
    process.stdout.write(`first start: initializing ${home}\n`);
    const r = await initializeAppliance({
      home,
      configFile,
      adminUsername: 'admin',
      web: { listen: '127.0.0.1', httpsPort: 8443, httpPort: 8080, publicHost: '127.0.0.1' },
      progress: (line) => process.stdout.write(`  ${line}...\n`),
    });
    firstStart = { user: r.adminUsername, password: r.oneTimePassword };
  }

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  for (const d of DAEMONS) {
    const child = spawn(process.execPath, [d.entry], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.set(d.name, child);
    child.on('exit', (code, signal) => {
      children.delete(d.name);
      if (!stopping) {
        process.stderr.write(`warden-${d.name} exited (${signal ?? code}); stopping\n`);
        stop(1);
      } else if (children.size === 0) process.exit(0);
    });
  }
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const c of children.values()) c.kill('SIGTERM');
    if (children.size === 0) process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));

  process.stdout.write('\nWarden is starting locally:\n');
  process.stdout.write('  web:  https://127.0.0.1:8443/  (http://127.0.0.1:8080/ redirects; the certificate is self-signed)\n');
  process.stdout.write(`  state: ${home}\n`);
  if (firstStart) {
    process.stdout.write(`  first administrator: ${firstStart.user}\n`);
    process.stdout.write(`  one-time password:   ${firstStart.password}   (you must change it at first login)\n`);
  } else {
    process.stdout.write('  (already initialized: use your administrator account; `rm -rf var` starts over)\n');
  }
  process.stdout.write('Press Ctrl-C to stop.\n\n');
}

main().catch((e) => {
  process.stderr.write(`make run: ${(e as Error).message}\n`);
  process.exit(1);
});
