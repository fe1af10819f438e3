// orbit discovery run|list|import|dismiss: the same audited DiscoveryService as the API — read a device's
// accounts, privileges and authorized keys over SSH with a discovery credential, review what is new, changed or
// gone, import an account into the vault (its password typed on standard input, or set anew) or dismiss it.
import type { Command } from 'commander';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, withAppliance } from '../context.js';

const ID = /^[1-9][0-9]{0,9}$/;

function id(value: string, what: string): number {
  if (!ID.test(value)) throw new CliError(`${what} is a positive number`, EXIT_USAGE);
  return Number(value);
}

/** The errors a person can act on become plain messages; anything else is a bug and keeps its stack. */
function plain(e: unknown): never {
  if (isWardenError(e) && ['DISCOVERY_FAILED', 'ROTATION_FAILED', 'INPUT_INVALID', 'NOT_FOUND', 'CONFLICT'].includes(e.code)) throw new CliError(e.message);
  throw e;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerDiscovery(program: Command): void {
  const discovery = program.command('discovery').description('find the accounts, privileges and SSH keys on devices, and import them into the vault');
  discovery
    .command('run')
    .description('read a device\'s local accounts, which are privileged, and their authorized keys, over SSH (read-only)')
    .requiredOption('--device <id>', 'the device id')
    .option('--credential <id>', 'the discovery credential (a privileged account of that device); remembered for the next runs')
    .option('--json', 'print JSON')
    .action(async (opts: { device: string; credential?: string; json?: boolean }, cmd: Command) => {
      const deviceId = id(opts.device, 'the device id');
      const credentialId = opts.credential === undefined ? undefined : id(opts.credential, 'the credential id');
      await withAppliance(cmd, async (a) => {
        process.stderr.write(`discovering device ${deviceId}...\n`);
        const r = await a.discovery.run(cliActor(), deviceId, credentialId).catch(plain);
        print(opts.json ? JSON.stringify(r) : `device ${deviceId}: ${r.new} new, ${r.changed} changed, ${r.gone} gone, ${r.unchanged} unchanged${r.readShadow ? '' : ' (password ages not readable)'}${r.readSudoers ? '' : ' (sudoers not readable)'}`);
      });
    });
  discovery
    .command('list')
    .description('the review list: what discovery found, newest first')
    .option('--device <id>', 'only this device')
    .option('--review <state>', 'pending, imported or dismissed', 'pending')
    .option('--json', 'print JSON')
    .action(async (opts: { device?: string; review: string; json?: boolean }, cmd: Command) => {
      if (!['pending', 'imported', 'dismissed'].includes(opts.review)) throw new CliError('--review is pending, imported or dismissed', EXIT_USAGE);
      const deviceId = opts.device === undefined ? undefined : id(opts.device, 'the device id');
      await withAppliance(cmd, async (a) => {
        const findings = await a.discovery.list({ ...(deviceId ? { deviceId } : {}), review: opts.review as 'pending', limit: 500, offset: 0 });
        if (opts.json) return print(JSON.stringify(findings));
        if (findings.length === 0) return print(`nothing ${opts.review}`);
        for (const f of findings) {
          const d = f.detail as { privileged?: string[]; uid?: number };
          const why = f.kind === 'account' ? ` uid ${d.uid}${d.privileged && d.privileged.length > 0 ? `, privileged: ${d.privileged.join(', ')}` : ''}` : '';
          print(`${String(f.id).padStart(5)}  device ${f.deviceId}  ${f.state.padEnd(9)} ${f.kind.padEnd(7)} ${f.name}${why}`);
        }
      });
    });
  discovery
    .command('import')
    .description('import a discovered account into the vault: --rotate sets a new password through the discovery credential; --password-stdin takes the current one')
    .argument('<finding>', 'the finding id (orbit discovery list)')
    .option('--rotate', 'set a new password at once (proved by a login) instead of giving it')
    .option('--password-stdin', 'read the account\'s current password from standard input')
    .option('--json', 'print JSON')
    .action(async (finding: string, opts: { rotate?: boolean; passwordStdin?: boolean; json?: boolean }, cmd: Command) => {
      const findingId = id(finding, 'the finding id');
      if (opts.rotate === opts.passwordStdin) throw new CliError('give exactly one of --rotate and --password-stdin', EXIT_USAGE);
      const secret = opts.passwordStdin ? await readStdin() : undefined;
      await withAppliance(cmd, async (a) => {
        const r = await a.discovery.importFinding(cliActor(), findingId, { ...(secret !== undefined ? { secret } : {}), rotate: opts.rotate === true }).catch(plain);
        print(opts.json ? JSON.stringify(r) : `imported as credential ${r.credentialId}${opts.rotate ? (r.rotated ? '; a new password is set and vaulted' : `; the new password could not be set: ${r.rotationError}`) : ''}`);
        if (opts.rotate && !r.rotated) process.exitCode = 1;
      });
    });
  discovery
    .command('dismiss')
    .description('take a finding off the review list')
    .argument('<finding>', 'the finding id')
    .action(async (finding: string, _opts: unknown, cmd: Command) => {
      const findingId = id(finding, 'the finding id');
      await withAppliance(cmd, async (a) => {
        await a.discovery.dismiss(cliActor(), findingId).catch(plain);
        print(`finding ${findingId} dismissed`);
      });
    });
}
