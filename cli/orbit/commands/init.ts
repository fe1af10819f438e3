// orbit init: make this machine an appliance (state dir, token, master key, web TLS certificate, first admin).
import path from 'node:path';
import type { Command } from 'commander';
import { isInitialized } from '../../../appliance/provision/index.js';
import { validateUsername } from '../../../appliance/access/index.js';
import { CliError, EXIT_USAGE, interactive, locations, print } from '../context.js';
import { printFirstAdministrator, printShares, provisionAppliance, shareCut } from '../provisioning.js';
import { addHashCostOptions, hashCostFromOptions } from '../hash-cost.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`"${value}" is not a port number`, EXIT_USAGE);
  return n;
}

export function registerInit(program: Command): void {
  const init = program
    .command('init')
    .description('initialize the appliance: state directory, PKCS#11 token and master key, web TLS certificate, first administrator')
    .option('--admin-user <name>', 'user name of the first administrator (prompted if omitted on a terminal; default "admin")')
    .option('--admin-name <text>', 'full name of the first administrator', 'Administrator')
    .option('--admin-email <address>', 'e-mail of the first administrator', '')
    .option('--listen <address>', 'address the web daemon listens on', '0.0.0.0')
    .option('--https-port <port>', 'HTTPS port', '443')
    .option('--http-port <port>', 'HTTP port (redirects only)', '80')
    .option('--public-host <name>', 'host name for the certificate and redirects (default: this machine\'s name)')
    .option('--custodians <n>', 'how many custodian shares of the master key to cut', '3')
    .option('--threshold <k>', 'how many shares rebuild the master key (at least 2)', '2')
    .option('--shares-dir <dir>', 'where to write the share files, one per custodian (default: ./warden-key-shares)')
    .option('--anchor-file <file>', 'where the audit chain head is anchored, outside the state directory (default /var/log/warden/audit-anchor.log)')
    .option('--if-needed', 'do nothing (exit 0) if already initialized')
    .option('--json', 'print the result as JSON');
  addHashCostOptions(init)
    .addHelpText('after', '\nThe one-time password of the first administrator is printed once; it must be changed at first login.')
    .action(async (opts, cmd: Command) => {
      const { home, configFile } = locations(cmd);
      if (await isInitialized(configFile)) {
        if (opts.ifNeeded) {
          if (!opts.json) print(`already initialized (${configFile})`);
          else print(JSON.stringify({ initialized: false, configFile }));
          return;
        }
        throw new CliError(`${configFile} exists: this appliance is already initialized`);
      }
      let adminUser: string = opts.adminUser;
      if (!adminUser) adminUser = interactive() ? await (await import('@inquirer/prompts')).input({ message: 'First administrator user name', default: 'admin', validate: (v) => { try { validateUsername(v); return true; } catch (e) { return (e as Error).message; } } }) : 'admin';
      const argon2 = hashCostFromOptions(opts);
      const cut = shareCut(opts.custodians, opts.threshold, opts.sharesDir ?? 'warden-key-shares');
      const result = await provisionAppliance(
        {
          home,
          configFile,
          adminUsername: validateUsername(adminUser),
          adminFullName: opts.adminName,
          adminEmail: opts.adminEmail,
          web: { listen: opts.listen, httpsPort: port(opts.httpsPort), httpPort: port(opts.httpPort), ...(opts.publicHost ? { publicHost: opts.publicHost } : {}) },
          ...(argon2 ? { argon2 } : {}),
          ...(opts.anchorFile ? { anchorFile: path.resolve(opts.anchorFile) } : {}),
          progress: opts.json ? undefined : (line) => print(`  ${line}...`),
        },
        cut,
      );
      if (opts.json) {
        print(JSON.stringify({ initialized: true, configFile, home, applianceId: result.applianceId, adminUsername: result.adminUsername, oneTimePassword: result.oneTimePassword, shareFiles: result.shareFiles, threshold: cut.threshold }));
        return;
      }
      print(`initialized appliance ${result.applianceId}`);
      print(`  config:  ${configFile}`);
      print(`  state:   ${home}`);
      print('');
      printShares(result);
      print('');
      printFirstAdministrator(result);
    });
}
