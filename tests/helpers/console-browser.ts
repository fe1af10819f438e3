// What every console page's browser test needs: the real web daemon with its first administrator signed in
// (through the API), Debian's Chromium, a context per language, sign-in through the login form, polling that
// the console's CSP allows, axe-core's serious violations, and the "no English left" check of a walk in another
// language. Each page's test builds on it instead of copying it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CATALOGUE } from '../../appliance/i18n/catalogue.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';
import type { InitializedHome } from './fixtures.js';
import { daemonWithAdmin, type ApiClient, type RunningDaemon } from './web-daemon.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface ConsoleLab {
  home: InitializedHome;
  d: RunningDaemon;
  /** The first administrator, signed in through the API (password already changed). */
  admin: ApiClient;
  adminPassword: string;
  browser: Browser;
  origin: string;
  /** A browser context in `locale` (Accept-Language and navigator.language), downloads allowed. */
  context(locale?: string): Promise<BrowserContext>;
  /**
   * A new page signed in as `username` through the login form, landed on `path` (default /console). `clock`:
   * playwright's clock installed before the console loads (a test may then jump it); `newPassword`: `password`
   * is a one-time password, changed to this one on the form the sign-in shows.
   */
  signedIn(username: string, password: string, opts?: { locale?: string; path?: string; clock?: boolean; newPassword?: string }): Promise<Page>;
  stop(): Promise<void>;
}

/**
 * `beforeStart` may edit the appliance's home (its config file) before the daemon reads it. `home`: serve this
 * one (a proxy lab's, with its sshd target) instead of a fresh one; its owner removes it, `stop()` does not.
 */
export async function startConsoleLab(opts: { beforeStart?: (home: InitializedHome) => void | Promise<void>; home?: InitializedHome } = {}): Promise<ConsoleLab> {
  const { home, d, admin, adminPassword } = await daemonWithAdmin(opts);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const origin = `https://127.0.0.1:${d.httpsPort}`;
  const contexts: BrowserContext[] = [];
  const lab: ConsoleLab = {
    home,
    d,
    admin,
    adminPassword,
    browser,
    origin,
    async context(locale = 'en-US') {
      const c = await browser.newContext({ ignoreHTTPSErrors: true, locale, acceptDownloads: true });
      contexts.push(c);
      return c;
    },
    async signedIn(username, password, opts = {}) {
      const page = await (await lab.context(opts.locale)).newPage();
      if (opts.clock) await page.clock.install();
      await page.goto(`${origin}${opts.path ?? '/console'}`);
      await page.locator('#username').fill(username);
      await page.locator('#password').fill(password);
      await page.locator('#login-submit').click();
      if (opts.newPassword !== undefined) {
        await page.locator('#view-change').waitFor({ state: 'visible' });
        await page.locator('#current-password').fill(password);
        await page.locator('#new-password').fill(opts.newPassword);
        await page.locator('#confirm-password').fill(opts.newPassword);
        await page.locator('#change-submit').click();
      }
      await page.locator('#console nav').waitFor({ state: 'visible' });
      return page;
    },
    async stop() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await d.stop();
      if (!opts.home) home.cleanup();
    },
  };
  return lab;
}

/**
 * Poll a page expression until it is true. Not page.waitForFunction: that evaluates its text with the page's
 * eval, which the console's CSP forbids (no 'unsafe-eval'); page.evaluate goes through the DevTools protocol.
 * Page code is a string because the tests' TypeScript has no DOM types (they stay out of the server build).
 */
export async function waitUntil(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Focused {
  tag: string;
  id: string;
  text: string;
}

/** The element that has the focus now: its tag, id and trimmed text. */
export function focused(page: Page): Promise<Focused> {
  return page.evaluate<Focused>(`(() => {
    const el = document.activeElement;
    return { tag: el?.tagName ?? '', id: el?.id ?? '', text: (el?.textContent ?? '').trim() };
  })()`);
}

/** Press Tab until the focus is on an element `match` accepts; fails after `max` presses. */
export async function tabTo(page: Page, match: (f: Focused) => boolean, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (match(await focused(page))) return;
  }
  assert.fail(`Tab never reached the element (last: ${JSON.stringify(await focused(page))})`);
}

/** axe-core's serious and critical violations on the page as it is now, "rule (impact): targets". */
export async function seriousViolations(page: Page): Promise<string[]> {
  // page.evaluate runs through the DevTools protocol, which the page's CSP does not govern: axe is injected
  // for the check only, the page itself still allows no inline or foreign script.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate<{ id: string; impact: string; targets: string[] }[]>(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  })()`);
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.targets.join(', ')}`);
}

/**
 * English console messages left in texts seen during a walk in `lang`: every en-US message under `prefixes` that
 * `lang` words differently must be absent (whole words; a message with placeholders is checked by its longest
 * fixed part; a word the language itself uses in one of its messages is that language's, not a leftover).
 */
export function englishLeftovers(texts: string[], lang: string, prefixes: string[] = ['console.']): string[] {
  const en = CATALOGUE['en-US']! as Record<string, string>;
  const other = CATALOGUE[lang]! as Record<string, string>;
  const leftovers: string[] = [];
  for (const [key, value] of Object.entries(en)) {
    if (!prefixes.some((p) => key.startsWith(p))) continue;
    if (other[key] === value) continue;
    const fixed = value.split(/\{\{\w+\}\}/).map((s) => s.trim()).sort((a, b) => b.length - a.length)[0]!;
    if (fixed.length < 4) continue;
    const re = new RegExp(`(^|[^\\p{L}])${fixed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}])`, 'u');
    if (Object.values(other).some((v) => re.test(v))) continue;
    for (const text of texts) if (re.test(text)) leftovers.push(`${key}: ${fixed}`);
  }
  return [...new Set(leftovers)];
}
