// Interface languages (pt-BR, en-US, de, es, pl, fr, ru) and the message catalogue the web pages, the API's
// error messages and orbit draw from (i18next does lookup, fallback and interpolation); the time zone names.
import i18next, { type i18n as I18n } from 'i18next';
import { CATALOGUE, type MessageKey } from './catalogue.js';
export { isValidTimeZone } from './time-zone.js';

export const LANGUAGES = ['en-US', 'pt-BR', 'de', 'es', 'pl', 'fr', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];
export type { MessageKey };

let instance: I18n | undefined;

function engine(): I18n {
  if (!instance) {
    instance = i18next.createInstance();
    // initAsync: false makes init synchronous with in-memory resources.
    void instance.init({
      resources: Object.fromEntries(Object.entries(CATALOGUE).map(([lng, msgs]) => [lng, { translation: msgs }])),
      lng: 'en-US',
      fallbackLng: 'en-US',
      supportedLngs: [...LANGUAGES],
      interpolation: { escapeValue: false },
      initAsync: false,
      showSupportNotice: false,
    } as Parameters<I18n['init']>[0]);
  }
  return instance;
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** The message for `key` in `lang` (falling back to en-US), with {{name}} placeholders filled. */
export function t(lang: Language, key: MessageKey, values?: Record<string, string | number>): string {
  return engine().t(key, { lng: lang, ...values });
}

/** Every message of one language, for the browser page. */
export function messages(lang: Language): Record<MessageKey, string> {
  return { ...CATALOGUE['en-US'], ...CATALOGUE[lang] };
}

/** Pick the best language from an Accept-Language header; `fallback` when nothing matches. */
export function negotiateLanguage(header: string | undefined, fallback: Language): Language {
  if (!header) return fallback;
  const wanted = header
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: (tag ?? '').trim().toLowerCase(), q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((w) => w.tag.length > 0 && w.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const w of wanted) {
    const exact = LANGUAGES.find((l) => l.toLowerCase() === w.tag);
    if (exact) return exact;
    const base = w.tag.split('-')[0];
    const partial = LANGUAGES.find((l) => l.toLowerCase().split('-')[0] === base);
    if (partial) return partial;
  }
  return fallback;
}
export { usernameKey } from './skeleton.js';
