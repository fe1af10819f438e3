// The catalogue's sections, one file per console page (see ../section.ts). Add a page's section here.
import type { Section, SectionLanguage } from '../section.js';
import { SESSIONS } from './sessions.js';

export const SECTIONS = [SESSIONS] as const satisfies readonly Section<string>[];

type KeysOf<T> = T extends Section<infer K> ? K : never;
/** Every key the sections define. */
export type SectionKey = KeysOf<(typeof SECTIONS)[number]>;

/** One language's messages from every section. */
export function sectionMessages(lang: SectionLanguage): Record<SectionKey, string> {
  return Object.assign({}, ...SECTIONS.map((s: Section<string>) => s[lang])) as Record<SectionKey, string>;
}
