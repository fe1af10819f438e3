// Checks every free-text field passes before it reaches the store: well-formed Unicode (no lone
// surrogates), no control characters, bounded length. Names in any script pass untouched.
import { InputError } from './index.js';

// C0/C1 controls and DEL; tab is not allowed in names either.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

export function requireText(value: unknown, field: string, opts: { min?: number; max: number }): string {
  if (typeof value !== 'string') throw new InputError(`${field} must be a string`, { field });
  if (!value.isWellFormed()) throw new InputError(`${field} is not valid Unicode`, { field });
  if (value.includes('\uFFFD')) throw new InputError(`${field} contains an invalid character (U+FFFD)`, { field });
  if (CONTROL.test(value)) throw new InputError(`${field} contains control characters`, { field });
  const normalized = value.normalize('NFC');
  const length = [...normalized].length;
  if (length < (opts.min ?? 0)) throw new InputError(`${field} must have at least ${opts.min} characters`, { field });
  if (length > opts.max) throw new InputError(`${field} must have at most ${opts.max} characters`, { field });
  return normalized;
}
