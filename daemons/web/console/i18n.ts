// The console's words: the messages of the negotiated language, which the server put into the page shell from
// the one shared catalogue (appliance/i18n). The key type comes from that catalogue, so a page naming a key
// that does not exist fails the console's type check.
import type { MessageKey } from '../../../appliance/i18n/index.js';

export type { MessageKey };

let catalogue: Record<string, string> | undefined;

function messages(): Record<string, string> {
  if (!catalogue) {
    const el = document.getElementById('messages');
    catalogue = el?.textContent ? (JSON.parse(el.textContent) as Record<string, string>) : {};
  }
  return catalogue;
}

/** The message for `key` with {{name}} placeholders filled; the key itself if the page has no such message. */
export function t(key: MessageKey, values?: Record<string, string | number>): string {
  const text = messages()[key] ?? key;
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => (values && k in values ? String(values[k]) : ''));
}

/** Whether the catalogue has a message for a key built at run time (an error code, a profile name). */
export function hasMessage(key: string): key is MessageKey {
  return Object.hasOwn(messages(), key);
}

/** The keys under a prefix, in catalogue order (the profile names, for example). */
export function keysUnder(prefix: string): string[] {
  return Object.keys(messages()).filter((k) => k.startsWith(prefix));
}

/** The page's language (the <html lang> the server negotiated), for dates and numbers. */
export function language(): string {
  return document.documentElement.lang || 'en-US';
}

export function formatDateTime(iso: string): string {
  return new Intl.DateTimeFormat(language(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(language()).format(n);
}

/** A profile's name in the page's language (the raw name for a profile this catalogue does not know). */
export function profileLabel(profile: string): string {
  const key = `console.profile.${profile}`;
  return hasMessage(key) ? t(key) : profile;
}

/** The profiles the catalogue names, for the create form: the catalogue test holds them to the server's list. */
export function profileNames(): string[] {
  return keysUnder('console.profile.').map((k) => k.slice('console.profile.'.length));
}
