// The console's words are translated, not copied: a console.* message in pt-BR, de, es, pl, fr or ru that is
// the same as en-US fails unless it is on the short list below of words that truly are the same in that
// language. The profile names the console offers are exactly the server's profiles.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LANGUAGES } from '../../../appliance/i18n/index.js';
import { CATALOGUE } from '../../../appliance/i18n/catalogue.js';
import { PROFILE_NAMES } from '../../../appliance/access/index.js';

/** language → console keys whose text is rightly the same as en-US's there (each entry is checked too). */
export const SAME_AS_ENGLISH: Record<string, string[]> = {
  de: ['console.profile.administrator', 'console.user.mfa.duo', 'console.terminal.heading'],
  pl: ['console.profile.administrator', 'console.user.mfa.duo', 'console.terminal.heading'],
  es: ['console.profile.auditor', 'console.user.mfa.duo', 'console.terminal.heading'],
  'pt-BR': ['console.profile.auditor', 'console.user.mfa.duo', 'console.terminal.heading'],
  fr: ['console.audit.outcome.info', 'console.sessions.nav', 'console.sessions.heading', 'console.sessions.col.actions', 'console.user.mfa.duo', 'console.terminal.heading'],
  // A product's name.
  ru: ['console.user.mfa.duo'],
};

/** "lang key" for every console message that equals en-US's and is not on the list. */
export function untranslated(catalogue: Record<string, Record<string, string>>, allowed: Record<string, string[]>): string[] {
  const en = catalogue['en-US']!;
  const out: string[] = [];
  for (const [lang, messages] of Object.entries(catalogue)) {
    if (lang === 'en-US') continue;
    for (const [key, value] of Object.entries(messages)) {
      if (!key.startsWith('console.')) continue;
      const same = value === en[key];
      const listed = (allowed[lang] ?? []).includes(key);
      if (same && !listed) out.push(`${lang} ${key}: ${JSON.stringify(value)}`);
      if (!same && listed) out.push(`${lang} ${key} is on the same-as-English list but is translated: take it off`);
    }
  }
  return out;
}

describe('console messages', () => {
  const catalogue = CATALOGUE as unknown as Record<string, Record<string, string>>;

  test('the catalogue has console messages in every language', () => {
    for (const lang of LANGUAGES) assert.ok(Object.keys(catalogue[lang]!).filter((k) => k.startsWith('console.')).length >= 50, lang);
  });

  test('no console message is an English copy (but the listed same words)', () => {
    assert.deepEqual(untranslated(catalogue, SAME_AS_ENGLISH), []);
  });

  test('the rule fails on an English copy and on a stale entry of the list', () => {
    const made = { 'en-US': { 'console.a': 'Users', 'console.b': 'Status', 'login.x': 'OK' }, de: { 'console.a': 'Users', 'console.b': 'Zustand', 'login.x': 'OK' } };
    assert.deepEqual(untranslated(made, {}), ['de console.a: "Users"']);
    assert.deepEqual(untranslated(made, { de: ['console.a', 'console.b'] }), ['de console.b is on the same-as-English list but is translated: take it off']);
  });

  test('each language names itself differently (the top bar shows it)', () => {
    const names = LANGUAGES.map((l) => catalogue[l]!['console.languageName']);
    assert.equal(new Set(names).size, LANGUAGES.length);
  });

  test('the profiles the create form offers are the server\'s profiles, each named in every language', () => {
    const offered = Object.keys(catalogue['en-US']!).filter((k) => k.startsWith('console.profile.')).map((k) => k.slice('console.profile.'.length));
    assert.deepEqual([...offered].sort(), [...PROFILE_NAMES].sort());
  });
});

describe('catalogue sections', () => {
  test('no key is defined twice (base catalogue and sections, or two sections)', async () => {
    const { duplicateKeys } = await import('../../../appliance/i18n/catalogue.js');
    assert.deepEqual(duplicateKeys(), []);
  });

  test('a section makes every language carry every key (the type), and its words reach each language', async () => {
    const { section } = await import('../../../appliance/i18n/section.js');
    const s = section({ 'console.x.a': 'A' }, { 'pt-BR': { 'console.x.a': 'Á' }, de: { 'console.x.a': 'Ä' }, es: { 'console.x.a': 'A1' }, pl: { 'console.x.a': 'A2' }, fr: { 'console.x.a': 'À' }, ru: { 'console.x.a': 'А' } });
    assert.equal(s.ru['console.x.a'], 'А');
    // @ts-expect-error a language without the key does not compile
    section({ 'console.x.b': 'B' }, { 'pt-BR': {}, de: { 'console.x.b': 'B' }, es: { 'console.x.b': 'B' }, pl: { 'console.x.b': 'B' }, fr: { 'console.x.b': 'B' }, ru: { 'console.x.b': 'B' } });
  });
});
