// orbit user add|list|unlock: local accounts from the console.
import type { Command } from 'commander';
import { PROFILE_NAMES } from '../../../appliance/access/index.js';
import { LANGUAGES } from '../../../appliance/i18n/index.js';
import { CliError, EXIT_USAGE, cliActor, interactive, print, printTable, withAppliance } from '../context.js';

export function registerUser(program: Command): void {
  const user = program.command('user').description('manage local user accounts');

  user
    .command('add')
    .description('create a user; a one-time password is printed and must be changed at first login')
    .argument('[username]', 'user name (letters, digits, . _ @ -)')
    .option('--full-name <text>', 'full name')
    .option('--email <address>', 'e-mail address', '')
    .option('--profile <profile>', `one of: ${PROFILE_NAMES.join(', ')}`)
    .option('--language <lang>', `interface language: ${LANGUAGES.join(', ')}`)
    .option('--json', 'print the result as JSON')
    .action(async (username: string | undefined, opts, cmd: Command) => {
      const ask = interactive();
      // Prompts load only on a terminal: flags-only runs (scripts, CI) skip the cost.
      const { input, select } = ask ? await import('@inquirer/prompts') : ({} as typeof import('@inquirer/prompts'));
      if (!username) {
        if (!ask) throw new CliError('a user name is required', EXIT_USAGE);
        username = await input({ message: 'User name' });
      }
      let fullName: string | undefined = opts.fullName;
      if (!fullName) fullName = ask ? await input({ message: 'Full name' }) : username;
      let profile: string | undefined = opts.profile;
      if (!profile) {
        if (!ask) throw new CliError(`--profile is required (one of: ${PROFILE_NAMES.join(', ')})`, EXIT_USAGE);
        profile = await select({ message: 'Profile', choices: PROFILE_NAMES.map((p) => ({ value: p, name: p })) });
      }
      await withAppliance(cmd, async (a) => {
        const { user: created, oneTimePassword } = await a.users.create(cliActor(), {
          username,
          fullName,
          email: opts.email,
          profile,
          ...(opts.language ? { language: opts.language } : {}),
        });
        if (opts.json) return print(JSON.stringify({ user: await a.users.view(created), oneTimePassword }));
        print(`created ${created.username} (${created.profile})`);
        print(`one-time password: ${oneTimePassword}`);
      });
    });

  user
    .command('list')
    .description('list user accounts')
    .option('--json', 'print as JSON')
    .action(async (opts, cmd: Command) => {
      await withAppliance(
        cmd,
        async (a) => {
          const users = await a.users.list();
          if (opts.json) return print(JSON.stringify({ users }));
          printTable(
            users.map((u) => ({ ...u, locked: u.locked ? 'yes' : 'no', lastLoginAt: u.lastLoginAt ?? '-' })),
            ['username', 'fullName', 'profile', 'status', 'locked', 'lastLoginAt'],
          );
        },
        { withoutKeys: true },
      );
    });

  user
    .command('unlock')
    .description('unlock an account locked by failed logins')
    .argument('<username>', 'the user to unlock')
    .action(async (username: string, _opts, cmd: Command) => {
      await withAppliance(cmd, async (a) => {
        const u = await a.users.byUsername(username);
        await a.users.unlock(cliActor(), u.id);
        print(`unlocked ${u.username}`);
      });
    });
}
