#!/usr/bin/env node
// warden-rdp-proxy: the RDP door. Reads config, opens the appliance (store + token; no token, no start),
// loads or creates its TLS certificate, serves RDP, tells systemd it is ready, drains on SIGTERM.
// `--listen ADDR --port N` override the config (the `make run` supervisor, tests).
import { Appliance } from '../../appliance/index.js';
import { loadConfig, restrictUmask } from '../../appliance/config/index.js';
import { logger, setLogLevel } from '../../appliance/log/index.js';
import { listenOverrides, superviseProxy, notifyReady } from '../../appliance/lifecycle/index.js';
import { isWardenError } from '../../appliance/errors/index.js';
import { loadOrCreateTlsIdentity } from './tls-identity.js';
import { RdpProxyServer } from './server.js';

const log = logger('rdp-proxy');

async function main(): Promise<void> {
  restrictUmask();
  const config = loadConfig();
  setLogLevel(config.log.level);
  const { listen, port } = { ...config.rdpProxy, ...listenOverrides(process.argv.slice(2)) };
  const identity = await loadOrCreateTlsIdentity(config.rdpProxy.tlsCert, config.rdpProxy.tlsKey);
  if (identity.created) log.info('created the proxy TLS certificate', { file: config.rdpProxy.tlsCert, sha256: identity.fingerprint256 });
  const appliance = await Appliance.open(config, { daemon: true });
  const server = new RdpProxyServer(appliance, {
    listen,
    port,
    identity,
    authTimeoutMs: config.rdpProxy.loginGraceSeconds * 1000,
    maxUnauthenticated: config.rdpProxy.maxUnauthenticated,
  });
  const bound = await server.listen();
  superviseProxy({ log, stop: () => server.stop(), close: () => appliance.close(), invalidateSettings: () => appliance.settings.invalidate(), restartOnly: 'listen address, port and certificate' });
  const where = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;
  log.info('listening', { rdp: bound, pid: process.pid, certificate: identity.fingerprint256 });
  process.stdout.write(`warden-rdp-proxy ready: rdp://${where}:${bound}\n`);
  notifyReady(`serving rdp on ${bound}`);
}

main().catch((e) => {
  const message = isWardenError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  log.error('warden-rdp-proxy failed to start', { error: message });
  process.stderr.write(`warden-rdp-proxy: ${message}\n`);
  process.exit(1);
});
