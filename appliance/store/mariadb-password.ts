// The MariaDB account's password lives in a private file beside the token's PIN, never in warden.json.
import { readFileSync, statSync } from 'node:fs';
import { WardenError } from '../errors/index.js';

/** The first line of `file`, refused when anyone but the owner (and, read-only, its group) may read it. */
export function readMariaDbPassword(file: string): string {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `store.mariadb.passwordFile ${file} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  // 0600, or 0640 in the appliance's shared state directory: no group write, nothing for others.
  if ((mode & 0o027) !== 0) throw new WardenError('CONFIG_INVALID', `store.mariadb.passwordFile ${file} has mode ${(mode & 0o777).toString(8)}: it must be 0600 or 0640`);
  const password = readFileSync(file, 'utf8').split('\n')[0]!.replace(/\r$/, '');
  if (password.length === 0) throw new WardenError('CONFIG_INVALID', `store.mariadb.passwordFile ${file} is empty`);
  return password;
}
