import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LANGUAGES, messages, negotiateLanguage, t } from '../../../appliance/i18n/index.js';
import { CATALOGUE } from '../../../appliance/i18n/catalogue.js';

describe('interface languages', () => {
  test('there are the seven product languages', () => {
    assert.deepEqual([...LANGUAGES].sort(), ['de', 'en-US', 'es', 'fr', 'pl', 'pt-BR', 'ru']);
  });

  const keys = Object.keys(CATALOGUE['en-US']!).sort();
  for (const lang of LANGUAGES) {
    test(`${lang} has every message, each non-empty and with the same placeholders`, () => {
      const cat = CATALOGUE[lang]!;
      assert.deepEqual(Object.keys(cat).sort(), keys);
      for (const k of keys) {
        assert.ok(cat[k as keyof typeof cat].length > 0, k);
        const ph = (s: string) => (s.match(/\{\{\w+\}\}/g) ?? []).sort();
        assert.deepEqual(ph(cat[k as keyof typeof cat]), ph(CATALOGUE['en-US']![k as keyof typeof cat]), `${lang} ${k}`);
      }
    });
  }

  test('lookup fills placeholders and answers in the asked language', () => {
    assert.equal(t('ru', 'home.welcome', { name: 'Пётр' }), 'Добро пожаловать, Пётр');
    assert.equal(t('pt-BR', 'login.invalid'), 'Credenciais de usuário inválidas');
    assert.equal(t('en-US', 'login.invalid'), 'Invalid user credentials');
    assert.equal(messages('de')['login.submit'], 'Anmelden');
  });

  const negotiation: [string | undefined, string][] = [
    [undefined, 'en-US'],
    ['pt-BR,pt;q=0.9', 'pt-BR'],
    ['pt', 'pt-BR'],
    ['de-AT,de;q=0.8,en;q=0.5', 'de'],
    ['ja,zh;q=0.9', 'en-US'],
    ['fr;q=0.2, pl;q=0.9', 'pl'],
    ['ru;q=0', 'en-US'],
    [';;;,,', 'en-US'],
  ];
  for (const [header, expected] of negotiation) {
    test(`Accept-Language ${JSON.stringify(header)} → ${expected}`, () => assert.equal(negotiateLanguage(header, 'en-US'), expected));
  }
});
