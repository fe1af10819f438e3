#!/usr/bin/env node
// warden-terminal-proxy: the SSH door. Reads config, opens the appliance (store + token; no token, no start),
// loads or creates its own host key, serves SSH, tells systemd it is ready, drains on SIGTERM.
// `--listen ADDR --port N` override the config (the `make run` supervisor, tests).
import { Appliance } from '../../appliance/index.js';
import { loadConfig, restrictUmask } from '../../appliance/config/index.js';
import { logger, setLogLevel } from '../../appliance/log/index.js';
import { listenOverrides, superviseProxy, notifyReady, TERMINAL_PROXY_NODE_FLAGS } from '../../appliance/lifecycle/index.js';
import { isWardenError } from '../../appliance/errors/index.js';
import { CoreAuthenticator } from './authenticator.js';
import { RecordingTaps } from '../../appliance/ssh/index.js';
import { loadOrCreateHostKey } from './host-key.js';
import { TerminalProxyServer } from './server.js';

const log = logger('terminal-proxy');

async function main(): Promise<void> {
  restrictUmask();
  const config = loadConfig();
  setLogLevel(config.log.level);
  const { listen, port } = { ...config.terminalProxy, ...listenOverrides(process.argv.slice(2)) };
  const hostKey = loadOrCreateHostKey(config.terminalProxy.hostKey);
  if (hostKey.created) log.info('created the proxy host key', { file: config.terminalProxy.hostKey });
  const appliance = await Appliance.open(config, { daemon: true });
  const server = new TerminalProxyServer(appliance, {
    listen,
    port,
    hostKey: hostKey.key,
    authenticator: new CoreAuthenticator(appliance),
    taps: new RecordingTaps(appliance),
    authTimeoutMs: config.terminalProxy.loginGraceSeconds * 1000,
    maxUnauthenticated: config.terminalProxy.maxUnauthenticated,
  });
  const bound = await server.listen();
  const missing = TERMINAL_PROXY_NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
  if (missing.length > 0) log.warn('started without its Node flags: bulk transfers cost about twice the CPU', { missing });
  superviseProxy({ log, stop: () => server.stop(), close: () => appliance.close(), invalidateSettings: () => appliance.settings.invalidate(), restartOnly: 'listen address and port' });
  const where = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;
  log.info('listening', { ssh: bound, pid: process.pid });
  process.stdout.write(`warden-terminal-proxy ready: ssh://${where}:${bound}\n`);
  notifyReady(`serving ssh on ${bound}`);
}

main().catch((e) => {
  const message = isWardenError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  log.error('warden-terminal-proxy failed to start', { error: message });
  process.stderr.write(`warden-terminal-proxy: ${message}\n`);
  process.exit(1);
});
