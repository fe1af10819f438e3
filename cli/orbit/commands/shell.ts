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
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { CONSOLE_ACCOUNT, verifyAccountPassword } from '../console/account.js';
import { runConsole } from '../console/shell.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, type GlobalOptions } from '../context.js';

const ORBIT_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
/** Commands that make no sense from inside the console. */
const NOT_FROM_CONSOLE = new Set(['shell', 'help']);

export function registerShell(program: Command): void {
  program
    .command('shell')
    .description('the orbit console: a prompt that runs orbit commands (help, exit), no system shell')
    .argument('[user]', 'with --login: the name typed at the login prompt')
    .option('--login', 'ask for the console account\'s password first (the login program of the tty1 getty)')
    .option('--root <dir>', 'system tree whose /etc/shadow holds the console account (default /)')
    .addOption(new Option('--fail-delay <ms>', 'pause after a wrong password').default('3000').hideHelp())
    .action(async (user: string | undefined, opts: { login?: boolean; root?: string; failDelay: string }, cmd: Command) => {
      if (opts.login) {
        const ok = await login(user, opts.root ?? '/');
        if (!ok) {
          // A fixed pause, like login(1)'s: guessing at the console costs time; agetty starts over after it.
          await sleep(Math.max(0, Number(opts.failDelay) || 0));
          process.stdout.write('Login incorrect\n');
          throw new CliError('', EXIT_FAILURE);
        }
      } else if (user !== undefined) {
        throw new CliError('a user name is only taken with --login', EXIT_USAGE);
      }
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const code = await runConsole({
        commands: cmd.parent!.commands.map((c) => c.name()).filter((n) => !NOT_FROM_CONSOLE.has(n)),
        orbit: {
          command: process.execPath,
          args: [ORBIT_MAIN, ...(globals.home ? ['--home', path.resolve(globals.home)] : []), ...(globals.config ? ['--config', path.resolve(globals.config)] : [])],
        },
      });
      if (code !== 0) throw new CliError('', code);
    });
}

async function login(user: string | undefined, root: string): Promise<boolean> {
  const { password } = await import('@inquirer/prompts');
  let name = user;
  if (!name) name = (await (await import('@inquirer/prompts')).input({ message: 'login' })).trim();
  const secret = await password({ message: 'Password' });
  // The password is checked even for another name, so the answer's timing does not tell which names exist.
  const matches = await verifyAccountPassword(root, CONSOLE_ACCOUNT, secret);
  return matches && name === CONSOLE_ACCOUNT;
}
