// orbit status: is this appliance initialized, is its token usable, is its audit trail intact.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Appliance } from '../../../appliance/index.js';
import { loadConfig } from '../../../appliance/config/index.js';
import { describeCertificate } from '../../../appliance/pki/index.js';
import { CliError, describeError, environment, locations, print } from '../context.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show configuration, token, database, web certificate and audit-trail health')
    .option('--json', 'print as JSON')
    .action(async (opts, cmd: Command) => {
      const { configFile, home } = locations(cmd);
      const report: Record<string, unknown> = { configFile, home };
      let healthy = true;
      let config;
      try {
        config = loadConfig(environment(cmd));
        report.initialized = true;
      } catch (e) {
        report.initialized = false;
        report.error = describeError(e);
        healthy = false;
      }
      if (config) {
        report.web = { listen: config.web.listen, httpsPort: config.web.httpsPort, httpPort: config.web.httpPort };
        try {
          report.certificate = describeCertificate(readFileSync(config.web.tlsCert, 'utf8'));
        } catch (e) {
          report.certificate = { error: describeError(e) };
          healthy = false;
        }
        try {
          const a = await Appliance.open(config);
          try {
            const keys = a.keys.status();
            report.token = { ...keys, masterKeyExtractable: a.keys.masterKeyIsExtractable() };
            report.users = (await a.users.list()).length;
            // Open per protocol, wherever they run (a process that died counts until the sweep marks it).
            report.liveSessions = await a.sessions.openCounts();
            report.audit = await a.audit.verify();
            if (!(report.audit as { ok: boolean }).ok) healthy = false;
          } finally {
            await a.close();
          }
        } catch (e) {
          report.token = { error: describeError(e) };
          healthy = false;
        }
      }
      report.healthy = healthy;
      if (opts.json) print(JSON.stringify(report, null, 2));
      else {
        print(`config:      ${configFile} (${report.initialized ? 'initialized' : 'not initialized'})`);
        print(`state:       ${home}`);
        if (report.error) print(`problem:     ${report.error}`);
        if (report.web) {
          const w = report.web as { listen: string; httpsPort: number; httpPort: number };
          print(`web:         https ${w.listen}:${w.httpsPort}, http ${w.httpPort} (redirect)`);
        }
        if (report.certificate) {
          const c = report.certificate as { subject?: string; validTo?: string; error?: string };
          print(`certificate: ${c.error ?? `${c.subject?.replace(/\n/g, ', ')} valid to ${c.validTo}`}`);
        }
        if (report.token) {
          const t = report.token as { error?: string; tokenLabel?: string; tokenSerial?: string; masterKeyPresent?: boolean; masterKeyExtractable?: boolean };
          print(`token:       ${t.error ?? `"${t.tokenLabel}" serial ${t.tokenSerial}, master key ${t.masterKeyPresent ? 'present' : 'MISSING'}${t.masterKeyExtractable ? ' (EXTRACTABLE!)' : ', non-extractable'}`}`);
        }
        if (report.users !== undefined) print(`users:       ${report.users}`);
        if (report.liveSessions) {
          const counts = Object.entries(report.liveSessions as Record<string, number>);
          const total = counts.reduce((n, [, c]) => n + c, 0);
          print(`sessions:    ${total === 0 ? 'none live' : `${total} live (${counts.map(([p, c]) => `${p} ${c}`).join(', ')})`}`);
        }
        if (report.audit) {
          const v = report.audit as { ok: boolean; rows: number; brokenSeq?: number; reason?: string };
          print(`audit trail: ${v.ok ? `intact (${v.rows} rows)` : `BROKEN at row ${v.brokenSeq}: ${v.reason}`}`);
        }
      }
      if (!healthy) throw new CliError('', 1);
    });
}
