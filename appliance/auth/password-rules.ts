// Password rules: length, character classes, not containing the user name, not one of the last N.
import { randomInt } from 'node:crypto';
import { PolicyError } from '../errors/index.js';
import type { PasswordRules } from '../settings/index.js';
import { verifyPassword } from './password-hash.js';

/** Longest accepted password, in characters: long enough for passphrases, short enough to bound scrypt input. */
export const MAX_PASSWORD_LENGTH = 256;

export function characterClasses(password: string): number {
  let n = 0;
  // Scripts without case (CJK, Arabic...) count with lower-case, so their users are not held to a
  // class their alphabet does not have beyond the one it does.
  if (/[\p{Ll}\p{Lo}\p{Lm}]/u.test(password)) n++;
  if (/[\p{Lu}\p{Lt}]/u.test(password)) n++;
  if (/\p{Nd}/u.test(password)) n++;
  if (/[^\p{L}\p{Nd}]/u.test(password)) n++;
  return n;
}

/** Throws PolicyError with a stable code naming the first rule the password breaks. */
export function checkComplexity(password: string, username: string, rules: PasswordRules): void {
  const length = [...password].length;
  if (length < rules.minLength) {
    throw new PolicyError('PASSWORD_TOO_SHORT', `the password must have at least ${rules.minLength} characters`, { minLength: rules.minLength });
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new PolicyError('PASSWORD_TOO_LONG', `the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (characterClasses(password) < rules.minClasses) {
    throw new PolicyError(
      'PASSWORD_TOO_SIMPLE',
      `the password must mix at least ${rules.minClasses} of: lower-case, upper-case, digits, symbols`,
      { minClasses: rules.minClasses },
    );
  }
  if (rules.forbidUsername && username.length >= 3 && password.toLocaleLowerCase().includes(username.toLocaleLowerCase())) {
    throw new PolicyError('PASSWORD_CONTAINS_USERNAME', 'the password must not contain the user name');
  }
}

/** True if `password` matches one of `recentHashes` (the caller passes the last N, current first). */
export async function isInHistory(password: string, recentHashes: string[]): Promise<boolean> {
  for (const h of recentHashes) if (await verifyPassword(password, h)) return true;
  return false;
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '-_.+=!@#%';

/** A one-time password that meets any password rules up to 4 classes: 20 characters, every class present. */
export function generateOneTimePassword(length = 20): string {
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  const chars = [LOWER, UPPER, DIGITS, SYMBOLS].map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
