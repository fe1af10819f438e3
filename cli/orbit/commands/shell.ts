// orbit shell: the deployer's console (a prompt for orbit commands, no system shell), and with --login the
// console's login on tty1.
//
// How the console gets root without sudo, setuid or polkit: tty1's getty (after setup) is agetty with
// `--login-program /usr/local/sbin/orbit-login` (os-overlay getty@.service.d/warden-console.conf). agetty
// runs as root and execs the login program as root with the name typed at "login:"; orbit-login is
// `orbit shell --login -- NAME`, which accepts only the `orbit` account, checks its password against
// /etc/shadow (readable by root) and then runs the console in the same root process. Nothing gains
// privilege: root hands the terminal to a program that can only run orbit. The `orbit` account itself has
// /usr/local/bin/orbit-shell (`orbit shell`) as login shell, so a plain `login` as orbit elsewhere also
// lands in the console (then as the unprivileged orbit user).
import { existsSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { CONSOLE_ACCOUNT, verifyAccountPassword } from '../console/account.js';
import { runConsole } from '../console/shell.js';
import { Appliance } from '../../../appliance/index.js';
import { configPath, loadConfig } from '../../../appliance/config/index.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type GlobalOptions } from '../context.js';
import { systemEnvironment } from '../system-context.js';

const ORBIT_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
/** Commands that make no sense from inside the console. */
const NOT_FROM_CONSOLE = new Set(['shell', 'help']);

export function registerShell(program: Command): void {
  program
    .command('shell')
    .description('the orbit console: a prompt that runs orbit commands (help, exit), no system shell')
    .argument('[user]', 'with --login: the name typed at the login prompt')
    .option('--login', 'ask for the console account\'s password first (the login program of the tty1 getty)')
    .addOption(new Option('--fail-delay <ms>', 'pause after a wrong password').default('3000').hideHelp())
    .action(async (user: string | undefined, opts: { login?: boolean; failDelay: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions & { root?: string }>();
      if (opts.login) {
        // The global --root: whose /etc/shadow holds the console account (tests; / on the appliance).
        const verdict = await login(user, globals.root ? path.resolve(globals.root) : '/');
        await recordLogin(cmd, verdict);
        if (verdict !== 'ok') {
          // A fixed pause, like login(1)'s: guessing at the console costs time; agetty starts over after it.
          await sleep(Math.max(0, Number(opts.failDelay) || 0));
          process.stdout.write('Login incorrect\n');
          throw new CliError('', EXIT_FAILURE);
        }
      } else if (user !== undefined) {
        throw new CliError('a user name is only taken with --login', EXIT_USAGE);
      }
      const offered = cmd.parent!.commands.filter((c) => !NOT_FROM_CONSOLE.has(c.name()));
      const code = await runConsole({
        commands: offered.map((c) => c.name()),
        summaries: Object.fromEntries(offered.map((c) => [c.name(), c.summary() || c.description().split(/[:;(]/)[0]!.trim()])),
        orbit: {
          command: process.execPath,
          args: [ORBIT_MAIN, ...(globals.home ? ['--home', path.resolve(globals.home)] : []), ...(globals.config ? ['--config', path.resolve(globals.config)] : []), ...(globals.root ? ['--root', path.resolve(globals.root)] : [])],
        },
      });
      if (code !== 0) throw new CliError('', code);
    });
}

type LoginVerdict = 'ok' | 'AUTH_BAD_PASSWORD' | 'AUTH_UNKNOWN_USER';

async function login(user: string | undefined, root: string): Promise<LoginVerdict> {
  const { input, password } = await import('@inquirer/prompts');
  const name = user ?? (await input({ message: 'login' })).trim();
  const secret = await password({ message: 'Password' });
  // The password is checked even for another name, so the answer's timing does not tell which names exist.
  const matches = await verifyAccountPassword(root, CONSOLE_ACCOUNT, secret);
  if (name !== CONSOLE_ACCOUNT) return 'AUTH_UNKNOWN_USER';
  return matches ? 'ok' : 'AUTH_BAD_PASSWORD';
}

/** The terminal the login happens on (/dev/tty1, /dev/ttyS0), as far as this process can tell. */
function terminalName(): string {
  try {
    return readlinkSync('/proc/self/fd/0');
  } catch {
    return 'unknown';
  }
}

/**
 * The login in the audit trail, when the appliance is there to record it. The console is also the way to
 * repair a broken appliance, so a trail that cannot be opened never keeps anyone out: it is said and skipped.
 */
async function recordLogin(cmd: Command, verdict: LoginVerdict): Promise<void> {
  const env = systemEnvironment(cmd);
  if (!existsSync(configPath(env))) return;
  try {
    const appliance = await Appliance.open(loadConfig(env));
    try {
      await appliance.audit.record({
        type: 'console.login',
        outcome: verdict === 'ok' ? 'success' : 'failure',
        actor: CONSOLE_ACCOUNT,
        actorIp: null,
        subject: CONSOLE_ACCOUNT,
        code: verdict === 'ok' ? null : verdict,
        // A name other than the account's is left out: people type their password into the name field.
        detail: { terminal: terminalName(), ...(verdict === 'AUTH_UNKNOWN_USER' ? {} : { name: CONSOLE_ACCOUNT }) },
      });
    } finally {
      await appliance.close();
    }
  } catch (e) {
    process.stderr.write(`(the login could not be recorded in the audit trail: ${(e as Error).message})\n`);
  }
}
