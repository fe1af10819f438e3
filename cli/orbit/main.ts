#!/usr/bin/env node
// orbit: the deployer's console on the appliance. Every command has --help, works with flags alone
// (no terminal needed) and prompts only when run on one; exit 0 ok, 1 failure, 2 usage.
import { Command, CommanderError } from 'commander';
import { registerInit } from './commands/init.js';
import { registerUser } from './commands/user.js';
import { registerAudit } from './commands/audit.js';
import { registerStatus } from './commands/status.js';
import { registerCa } from './commands/ca.js';
import { registerBackup } from './commands/backup.js';
import { registerSettings } from './commands/settings.js';
import { registerSessionSearch } from './commands/session-search.js';
import { registerSessionLive } from './commands/session-live.js';
import { registerCredential } from './commands/credential.js';
import { registerDiscovery } from './commands/discovery.js';
import { registerRecording } from './commands/recording.js';
import { registerSshKey } from './commands/ssh-key.js';
import { registerSystem } from './commands/system.js';
import { registerCert } from './commands/cert.js';
import { registerShell } from './commands/shell.js';
import { registerSetup } from './commands/setup.js';
import { registerCluster } from './commands/cluster.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, describeError } from './context.js';
import { restrictUmask } from '../../appliance/config/index.js';

export function buildProgram(): Command {
  const program = new Command('orbit')
    .description('Warden appliance console')
    .version('0.1.0')
    .option('--home <dir>', 'state directory (default: $WARDEN_HOME or /var/lib/warden)')
    .option('--config <file>', 'configuration file (default: $WARDEN_CONFIG, $WARDEN_HOME/warden.json or /etc/warden/warden.json)')
    .option('--root <dir>', 'OS settings (network, dns, hostname, ntp, timezone, cert, firewall): write under DIR, reload nothing (default: this machine, live)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInit(program);
  registerUser(program);
  registerAudit(program);
  registerStatus(program);
  registerCa(program);
  registerBackup(program);
  registerSettings(program);
  registerSessionSearch(program);
  registerSessionLive(program);
  registerCredential(program);
  registerDiscovery(program);
  registerRecording(program);
  registerSshKey(program);
  registerSystem(program);
  registerCert(program);
  registerSetup(program);
  registerCluster(program);
  registerShell(program);
  // Every subcommand reports usage errors instead of exiting itself.
  const walk = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

async function run(argv: string[]): Promise<number> {
  // Everything orbit writes (state, shares, backups) is a secret: owner-only whatever the shell's umask.
  restrictUmask();
  // `orbit … | head` closes the pipe early: the reader has what it wanted, which is no failure of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if ((e as Error)?.name === 'ExitPromptError') {
      process.stderr.write('orbit: cancelled\n');
      return EXIT_FAILURE;
    }
    const message = describeError(e);
    if (message) process.stderr.write(`orbit: ${message}\n`);
    return e instanceof CliError ? e.exitCode : EXIT_FAILURE;
  }
}

run(process.argv).then((code) => {
  process.exitCode = code;
});
