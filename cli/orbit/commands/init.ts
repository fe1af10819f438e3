// orbit init: make this machine an appliance (state dir, token, master key, web TLS certificate, first admin).
import path from 'node:path';
import type { Command } from 'commander';
import { splitMasterKey } from '../../../appliance/backup/index.js';
import { initializeAppliance, isInitialized } from '../../../appliance/provision/index.js';
import { validateUsername } from '../../../appliance/access/index.js';
import { writePrivateFile } from '../../../appliance/config/index.js';
import { CliError, EXIT_USAGE, interactive, locations, print } from '../context.js';
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
      const custodians = Number(opts.custodians);
      const threshold = Number(opts.threshold);
      if (!Number.isInteger(threshold) || threshold < 2 || !Number.isInteger(custodians) || custodians < threshold || custodians > 255) {
        throw new CliError('--threshold must be at least 2 and --custodians at least the threshold (at most 255)', EXIT_USAGE);
      }
      const sharesDir = path.resolve(opts.sharesDir ?? 'warden-key-shares');
      let shareFiles: string[] = [];
      const result = await initializeAppliance({
        onMasterKey: async (material, applianceId) => {
          const shares = await splitMasterKey(material, { custodians, threshold, applianceId });
          shareFiles = shares.map((text, i) => {
            const file = path.join(sharesDir, `share-${i + 1}-of-${custodians}.txt`);
            writePrivateFile(file, text, { exclusive: true });
            return file;
          });
        },
        home,
        configFile,
        adminUsername: validateUsername(adminUser),
        adminFullName: opts.adminName,
        adminEmail: opts.adminEmail,
        web: { listen: opts.listen, httpsPort: port(opts.httpsPort), httpPort: port(opts.httpPort), ...(opts.publicHost ? { publicHost: opts.publicHost } : {}) },
        ...(argon2 ? { argon2 } : {}),
        ...(opts.anchorFile ? { anchorFile: path.resolve(opts.anchorFile) } : {}),
        progress: opts.json ? undefined : (line) => print(`  ${line}...`),
      });
      if (opts.json) {
        print(JSON.stringify({ initialized: true, configFile, home, applianceId: result.applianceId, adminUsername: result.adminUsername, oneTimePassword: result.oneTimePassword, shareFiles, threshold }));
        return;
      }
      print(`initialized appliance ${result.applianceId}`);
      print(`  config:  ${configFile}`);
      print(`  state:   ${home}`);
      print('');
      print(`Master key split into ${custodians} custodian shares (any ${threshold} rebuild it):`);
      for (const f of shareFiles) print(`  ${f}`);
      print('  Give each file to its custodian, then delete it here: the appliance keeps no copy of the key.');
      print('');
      print('First administrator (the password must be changed at first login):');
      print(`  user:     ${result.adminUsername}`);
      print(`  password: ${result.oneTimePassword}`);
    });
}
