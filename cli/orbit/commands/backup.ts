// orbit backup: encrypted database backups and the restore of a fresh appliance from a backup and k
// custodian shares of the master key.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { restoreBackup } from '../../../appliance/backup/index.js';
import { writePrivateFile } from '../../../appliance/config/index.js';
import { CliError, EXIT_USAGE, cliActor, locations, print, withAppliance } from '../context.js';
import { addHashCostOptions, hashCostFromOptions } from '../hash-cost.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readShare(file: string): string {
  try {
    if (statSync(file).size > 64 * 1024) throw new CliError(`${file} is too large to be a share`);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read share ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function registerBackup(program: Command): void {
  const backup = program.command('backup').description('encrypted backups and restore with custodian key shares');

  backup
    .command('keys')
    .description('make a new master key and cut it into new custodian shares; every secret is re-wrapped, the old key destroyed')
    .option('--custodians <n>', 'how many shares', '3')
    .option('--threshold <k>', 'how many shares rebuild the key (at least 2)', '2')
    .requiredOption('--shares-dir <dir>', 'where to write the new share files (one per custodian)')
    .addHelpText('after', '\nBackups made before this need the old shares; backups made after it need the new ones.\nRestart the daemons afterwards (systemctl restart warden-web) to drop cached key handles at once.')
    .action(async (opts, cmd: Command) => {
      const custodians = Number(opts.custodians);
      const threshold = Number(opts.threshold);
      if (!Number.isInteger(threshold) || threshold < 2 || !Number.isInteger(custodians) || custodians < threshold || custodians > 255) {
        throw new CliError('--threshold must be at least 2 and --custodians at least the threshold (at most 255)', EXIT_USAGE);
      }
      const dir = path.resolve(opts.sharesDir);
      const files: string[] = [];
      await withAppliance(cmd, async (a) => {
        const r = await a.rotateMasterKey({
          custodians,
          threshold,
          actor: cliActor().username,
          progress: (line) => print(`  ${line}...`),
          writeShares: (shares) => {
            shares.forEach((text, i) => {
              const file = path.join(dir, `share-${i + 1}-of-${custodians}.txt`);
              writePrivateFile(file, text, { exclusive: true });
              files.push(file);
            });
          },
        });
        print(`master key rotated (${r.from} → ${r.to}); ${r.rewrapped} sealed values re-wrapped`);
        print(`new custodian shares (any ${threshold} of ${custodians}):`);
        for (const f of files) print(`  ${f}`);
      });
    });

  backup
    .command('create')
    .description('write an encrypted backup of the database (restoring it needs k custodian shares of the master key)')
    .argument('<file>', 'where to write the backup')
    .action(async (file: string, _opts, cmd: Command) => {
      await withAppliance(cmd, async (a) => {
        const r = await a.createBackup(path.resolve(file), cliActor().username);
        print(`wrote ${path.resolve(file)} (${r.bytes} bytes, ${r.recordings} session recordings) for appliance ${r.applianceId}`);
      });
    });

  const restore = backup
    .command('restore')
    .description('rebuild a fresh appliance from a backup: the master key from k shares goes into a new token')
    .argument('<file>', 'the backup file')
    .option('--share <file>', 'a custodian share file (repeat: at least the threshold)', collect, [])
    .option('--listen <address>', 'address the web daemon listens on', '0.0.0.0')
    .option('--https-port <port>', 'HTTPS port', '443')
    .option('--http-port <port>', 'HTTP port (redirects only)', '80')
    .option('--anchor-file <file>', 'where the audit chain head is anchored on this machine (default /var/log/warden/audit-anchor.log)');
  addHashCostOptions(restore)
    .action(async (file: string, opts, cmd: Command) => {
      if (opts.share.length === 0) throw new CliError('give the custodian shares with --share FILE (at least the threshold)', EXIT_USAGE);
      const { home, configFile } = locations(cmd);
      const argon2 = hashCostFromOptions(opts);
      const r = await restoreBackup({
        home,
        configFile,
        backupFile: path.resolve(file),
        shares: (opts.share as string[]).map(readShare),
        web: { listen: opts.listen, httpsPort: Number(opts.httpsPort), httpPort: Number(opts.httpPort) },
        ...(argon2 ? { argon2 } : {}),
        ...(opts.anchorFile ? { anchorFile: path.resolve(opts.anchorFile) } : {}),
        progress: (line) => print(`  ${line}...`),
      });
      print(`restored appliance ${r.applianceId} into ${home}`);
    });
}
