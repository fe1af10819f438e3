// A section of the catalogue kept in its own file (one per console page): the en-US text sets the keys, and
// every other language must carry each of them — a missing or extra key is a compile error, as in the main
// catalogue. Sections let the pages grow in parallel without all editing one 1,000-line file.

/** The catalogue's languages (the same list as LANGUAGES in index.ts, which imports this module's users). */
export type SectionLanguage = 'en-US' | 'pt-BR' | 'de' | 'es' | 'pl' | 'fr' | 'ru';

export type Section<K extends string> = Record<SectionLanguage, Record<K, string>>;

/** `en` names the keys; `others` must translate exactly those keys in every other language. */
export function section<const E extends Record<string, string>>(en: E, others: Record<Exclude<SectionLanguage, 'en-US'>, Record<keyof E & string, string>>): Section<keyof E & string> {
  return { 'en-US': en, ...others };
}
