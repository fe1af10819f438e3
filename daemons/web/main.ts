#!/usr/bin/env node
// warden-web: the composition root of the web daemon. Reads config, opens the appliance (store + token;
// no token, no start), serves HTTPS and the redirect, tells systemd it is ready, drains on SIGTERM,
// reloads config and TLS certificate on SIGHUP (and the certificate whenever its files change).
import { Appliance } from '../../appliance/index.js';
import { loadConfig, restrictUmask } from '../../appliance/config/index.js';
import { logger, setLogLevel } from '../../appliance/log/index.js';
import { handleSignals, notifyReady } from '../../appliance/lifecycle/index.js';
import { isWardenError } from '../../appliance/errors/index.js';
import { WebServer } from './server.js';

const log = logger('web');

async function main(): Promise<void> {
  // Before anything opens a file: SQLite's -wal/-shm and SoftHSM's objects inherit it (state files 0600).
  restrictUmask();
  const config = loadConfig();
  setLogLevel(config.log.level);
  const appliance = await Appliance.open(config, { daemon: true });
  const server = await WebServer.create(appliance, { ...config.web });
  const { httpsPort, httpPort } = await server.start();
  // Session sweep, grant expiry, connectivity tests, feed pruning: each runs here while this process holds
  // its lease, in another daemon otherwise.
  const jobs = appliance.startJobs();

  handleSignals({
    drain: async (signal) => {
      log.info('draining', { signal });
      await server.stop();
      await jobs.stop();
      await appliance.close();
      log.info('stopped');
    },
    reload: async () => {
      try {
        const next = loadConfig();
        setLogLevel(next.log.level);
        try {
          server.reloadTls(next.web);
        } catch (e) {
          log.error('TLS certificate not reloaded; still serving the previous one', { error: e });
        }
        appliance.settings.invalidate();
        if (next.web.httpsPort !== config.web.httpsPort || next.web.httpPort !== config.web.httpPort || next.web.listen !== config.web.listen) {
          log.warn('listen address or port changed: takes effect at the next restart');
        }
        log.info('configuration reloaded');
      } catch (e) {
        log.error('reload failed; keeping the running configuration', { error: e });
      }
    },
  });

  const where = config.web.listen === '0.0.0.0' || config.web.listen === '::' ? '127.0.0.1' : config.web.listen;
  log.info('listening', { https: httpsPort, http: httpPort, pid: process.pid });
  // One plain line on stdout for people and for the supervisor of `make run`.
  process.stdout.write(`warden-web ready: https://${where}:${httpsPort}/ (http ${httpPort} redirects)\n`);
  notifyReady(`serving https on ${httpsPort}`);
}

main().catch((e) => {
  const message = isWardenError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  log.error('warden-web failed to start', { error: message });
  process.stderr.write(`warden-web: ${message}\n`);
  process.exit(1);
});
