// orbit ssh-key list|add|remove: the SSH public keys a user logs in to the terminal proxy with, managed from the
// console through the same service (validation, duplicates, audit) as /api/v1/me/ssh-keys and
// /api/v1/users/:id/ssh-keys. The console may add a key for someone (the web lets only the owner add): the
// operator is root on the appliance, and the audit row names the console as actor and the user as subject.
import { readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Appliance } from '../../../appliance/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, printTable, withAppliance } from '../context.js';

/** An authorized_keys file with a comment or two; the API takes one line of at most 16 KiB. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

function keyId(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new CliError(`"${value}" is not an SSH key id (see orbit ssh-key list --user NAME)`, EXIT_USAGE);
  return Number(value);
}

function readKeyFile(file: string): string {
  if (file === '-') {
    const data = readFileSync(0);
    if (data.length > MAX_KEY_FILE_BYTES) throw new CliError(`the standard input holds more than ${MAX_KEY_FILE_BYTES} bytes: one public key line is expected`);
    return data.toString('utf8');
  }
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(`${file} is not a regular file`);
    if (st.size > MAX_KEY_FILE_BYTES) throw new CliError(`${file} is larger than ${MAX_KEY_FILE_BYTES} bytes: one public key line is expected (the .pub file)`);
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function userNamed(a: Appliance, name: string): Promise<Awaited<ReturnType<Appliance['users']['byUsername']>>> {
  try {
    return await a.users.byUsername(name);
  } catch (e) {
    if (isWardenError(e) && e.code === 'NOT_FOUND') throw new CliError(`no user named "${name}" (see orbit user list)`);
    throw e;
  }
}

const iso = (s: string | null) => (s === null ? '-' : s.replace(/\.\d+Z$/, 'Z'));

export function registerSshKey(program: Command): void {
  const sshKey = program.command('ssh-key').description("users' SSH public keys for logging in to the terminal proxy");

  sshKey
    .command('list')
    .description("list a user's SSH keys: id, type, fingerprint, name, added, last used")
    .requiredOption('--user <name>', 'the Warden user')
    .option('--json', 'print as JSON')
    .action(async (opts: { user: string; json?: boolean }, cmd: Command) => {
      await withAppliance(
        cmd,
        async (a) => {
          const user = await userNamed(a, opts.user);
          const keys = await a.sshKeys.list(user.id);
          if (opts.json) return print(JSON.stringify({ user: user.username, keys }));
          if (keys.length === 0) return print(`${user.username} has no SSH key (orbit ssh-key add --user ${user.username} --file KEY.pub)`);
          printTable(
            keys.map((k) => ({ id: k.id, type: k.algorithm, fingerprint: k.fingerprint, name: k.comment || '-', added: iso(k.createdAt), 'last used': iso(k.lastUsedAt) })),
            ['id', 'type', 'fingerprint', 'name', 'added', 'last used'],
          );
        },
        { withoutKeys: true },
      );
    });

  sshKey
    .command('add')
    .description('register an SSH public key (one authorized_keys line: Ed25519, ECDSA or RSA of at least 2048 bits) for a user')
    .requiredOption('--user <name>', 'the Warden user')
    .addOption(new Option('--file <path>', 'the public key file (e.g. id_ed25519.pub), or - for standard input').conflicts('key'))
    .addOption(new Option('--key <line>', "the key line itself, e.g. 'ssh-ed25519 AAAA... alice@laptop'").conflicts('file'))
    .option('--name <label>', "a name shown in lists (replaces the key line's comment)")
    .option('--json', 'print the added key as JSON')
    .action(async (opts: { user: string; file?: string; key?: string; name?: string; json?: boolean }, cmd: Command) => {
      if (opts.file === undefined && opts.key === undefined) throw new CliError('give the key with --file PATH or --key LINE', EXIT_USAGE);
      const line = opts.file !== undefined ? readKeyFile(opts.file) : opts.key!;
      await withAppliance(cmd, async (a) => {
        const user = await userNamed(a, opts.user);
        const key = await a.sshKeys.add(cliActor(), user.id, line, opts.name !== undefined ? { comment: opts.name } : {});
        if (opts.json) return print(JSON.stringify({ user: user.username, key }));
        print(`added SSH key ${key.id} for ${user.username}: ${key.algorithm} ${key.fingerprint}${key.comment ? ` (${key.comment})` : ''}`);
      });
    });

  sshKey
    .command('remove')
    .description("remove one of a user's SSH keys: it stops logging in at once")
    .requiredOption('--user <name>', 'the Warden user')
    .argument('<id>', 'key id (see orbit ssh-key list --user NAME)')
    .action(async (id: string, opts: { user: string }, cmd: Command) => {
      const keyNumber = keyId(id);
      await withAppliance(cmd, async (a) => {
        const user = await userNamed(a, opts.user);
        try {
          await a.sshKeys.remove(cliActor(), user.id, keyNumber);
        } catch (e) {
          if (isWardenError(e) && e.code === 'NOT_FOUND') throw new CliError(`${user.username} has no SSH key ${keyNumber} (see orbit ssh-key list --user ${user.username})`);
          throw e;
        }
        print(`removed SSH key ${keyNumber} of ${user.username}`);
      });
    });
}
