// New passwords for rotation: drawn with the CSPRNG (crypto.randomInt, no modulo bias) from a template — length,
// the character classes that must each appear, and characters a target refuses. Written here because it is ten
// lines over node:crypto; a library would add a dependency for less control over the alphabet.
import { randomInt } from 'node:crypto';
import { InputError } from '../errors/index.js';

export interface PasswordTemplate {
  length: number;
  lower: boolean;
  upper: boolean;
  digits: boolean;
  /** Symbols allowed (each class present at least once when enabled); '' for none. */
  symbols: string;
  /** Characters never used, whatever the classes say (what a target or its shell refuses). */
  exclude: string;
}

/**
 * The default for an SSH/Unix account: 24 characters of all four classes. The symbols avoid quotes, backslash,
 * space, `$`, backtick and `&|;<>()` (a password typed into a shell script or a config file by hand later).
 */
export const DEFAULT_TEMPLATE: PasswordTemplate = { length: 24, lower: true, upper: true, digits: true, symbols: '!#%+,-.:=@^_~', exclude: '' };

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

export function generatePassword(template: PasswordTemplate = DEFAULT_TEMPLATE): string {
  const keep = (s: string) => [...s].filter((c) => !template.exclude.includes(c)).join('');
  const classes = [template.lower ? LOWER : '', template.upper ? UPPER : '', template.digits ? DIGITS : '', template.symbols].map(keep).filter((c) => c !== '');
  if (classes.length === 0) throw new InputError('the password template allows no character', { field: 'template' });
  if (!Number.isInteger(template.length) || template.length < Math.max(12, classes.length) || template.length > 256) {
    throw new InputError('a rotated password is 12 to 256 characters long', { field: 'template.length' });
  }
  const all = classes.join('');
  // One of each class, the rest from all of them, then shuffled (Fisher–Yates) so the classes sit anywhere.
  const chars = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < template.length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

const TEMPLATE_FIELDS = ['length', 'lower', 'upper', 'digits', 'symbols', 'exclude'] as const;

/**
 * A template from the API or a stored row: the fields given over the default's, each checked, and proved by
 * drawing one password with it (a template that allows nothing, or is too short for its classes, is refused).
 */
export function parseTemplate(input: unknown): PasswordTemplate {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('a password template must be an object', { field: 'template' });
  const i = input as Record<string, unknown>;
  for (const k of Object.keys(i)) if (!(TEMPLATE_FIELDS as readonly string[]).includes(k)) throw new InputError(`unknown template field ${k}`, { field: `template.${k}` });
  const t: PasswordTemplate = { ...DEFAULT_TEMPLATE };
  if (i.length !== undefined) {
    if (typeof i.length !== 'number' || !Number.isInteger(i.length)) throw new InputError('template.length must be an integer', { field: 'template.length' });
    t.length = i.length;
  }
  for (const k of ['lower', 'upper', 'digits'] as const) {
    if (i[k] === undefined) continue;
    if (typeof i[k] !== 'boolean') throw new InputError(`template.${k} must be true or false`, { field: `template.${k}` });
    t[k] = i[k];
  }
  for (const k of ['symbols', 'exclude'] as const) {
    if (i[k] === undefined) continue;
    // Printable ASCII without space: a character a person can read back and a target's shell or form can take.
    if (typeof i[k] !== 'string' || i[k].length > 64 || !/^[\x21-\x7e]*$/.test(i[k])) throw new InputError(`template.${k} must be up to 64 printable ASCII characters, no spaces`, { field: `template.${k}` });
    t[k] = i[k];
  }
  generatePassword(t);
  return t;
}
