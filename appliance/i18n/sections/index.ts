// The catalogue's sections, one file per console page (see ../section.ts). Add a page's section here.
import type { Section, SectionLanguage } from '../section.js';
import { ACCESS_GROUPS } from './access-groups.js';
import { APPROVALS } from './approvals.js';
import { CERTIFICATES } from './certificates.js';
import { CREDENTIALS } from './credentials.js';
import { DASHBOARD } from './dashboard.js';
import { DEVICES } from './devices.js';
import { ERRORS } from './errors.js';
import { MY_ACCESS } from './my-access.js';
import { PLAYER } from './player.js';
import { ROTATION } from './rotation.js';
import { SESSIONS } from './sessions.js';
import { SETTINGS } from './settings.js';
import { TERMINAL } from './terminal.js';
import { USER } from './user.js';

export const SECTIONS = [DASHBOARD, MY_ACCESS, APPROVALS, USER, DEVICES, CREDENTIALS, ROTATION, ACCESS_GROUPS, SESSIONS, PLAYER, TERMINAL, CERTIFICATES, SETTINGS, ERRORS] as const satisfies readonly Section<string>[];

type KeysOf<T> = T extends Section<infer K> ? K : never;
/** Every key the sections define. */
export type SectionKey = KeysOf<(typeof SECTIONS)[number]>;

/** One language's messages from every section. */
export function sectionMessages(lang: SectionLanguage): Record<SectionKey, string> {
  return Object.assign({}, ...SECTIONS.map((s: Section<string>) => s[lang])) as Record<SectionKey, string>;
}
