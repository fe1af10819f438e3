// The pages a browser loads: one HTML shell (login → second factor → forced password change → the console)
// rendered in the negotiated language, and a fixed set of static assets. Assets are served from a map built at
// start-up, never from a path taken from the URL. The console's bundle carries a content hash in its name
// (scripts/build-console.mjs writes console-manifest.json), so it may be cached for a year; the rest is
// revalidated on every load.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SettingsService } from '../../../appliance/settings/index.js';
import { messages, negotiateLanguage, t, type Language, type MessageKey } from '../../../appliance/i18n/index.js';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const FIXED_ASSETS: Record<string, string> = { 'app.js': JS, 'app.css': CSS };

/** The console bundle's file names, as the build wrote them. */
export interface ConsoleManifest {
  js: string;
  css: string;
  /** Script chunks the console imports on demand (the session player), served like the rest. */
  chunks: string[];
}

const HASHED = /^console-[A-Za-z0-9]+\.(js|css)$/;
const CHUNK = /^console-chunk-[A-Za-z0-9]+\.js$/;

/** Read the manifest the console build wrote; a build without the console is broken, so this throws. */
export function readConsoleManifest(dir = PUBLIC_DIR): ConsoleManifest {
  const file = path.join(dir, 'console-manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`the web console is not built (${file}: ${(e as Error).message}); run node scripts/build-console.mjs`);
  }
  const m = parsed as Partial<ConsoleManifest>;
  if (typeof m.js !== 'string' || typeof m.css !== 'string' || !HASHED.test(m.js) || !HASHED.test(m.css)) throw new Error(`${file} does not name a console script and stylesheet`);
  const chunks = m.chunks ?? [];
  if (!Array.isArray(chunks) || !chunks.every((c) => typeof c === 'string' && CHUNK.test(c))) throw new Error(`${file} names a console chunk that is not one`);
  return { js: m.js, css: m.css, chunks };
}

// 'wasm-unsafe-eval' lets the page compile WebAssembly, and nothing else: the session player
// (asciinema-player) runs its terminal emulator as a WebAssembly module carried inside the console's own
// script (a chunk loaded when a recording is opened). JavaScript eval and inline script stay refused; no worker or blob: source is needed.
// style-src adds one nonce per page: the terminal's emulator (xterm.js) sizes its rows with <style> elements it
// makes, and the console gives those (only those) the nonce the shell carries (pages/terminal.tsx). No style
// attribute and no other inline style is allowed. connect-src 'self' covers the terminal's wss: to this host.
function csp(styleNonce: string): string {
  return `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'nonce-${styleNonce}'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside a <script type="application/json">: escape what could close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export function renderShell(lang: Language, bundle: ConsoleManifest, styleNonce: string): string {
  const m = (k: MessageKey) => escapeHtml(t(lang, k));
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="warden-style-nonce" content="${styleNonce}">
<title>${m('app.title')}</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="stylesheet" href="/assets/${bundle.css}">
<script type="application/json" id="messages">${scriptJson(messages(lang))}</script>
<script src="/assets/app.js" defer></script>
<script type="module" src="/assets/${bundle.js}"></script>
</head>
<body>
<header class="bar"><span class="brand">${m('app.title')}</span></header>
<main>
<section id="view-login" class="card" hidden>
  <h1>${m('login.heading')}</h1>
  <form id="login-form" autocomplete="on">
    <label>${m('login.username')} <input name="username" id="username" autocomplete="username" required maxlength="256"></label>
    <label>${m('login.password')} <input name="password" id="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
    <button type="submit" id="login-submit">${m('login.submit')}</button>
    <p class="error" id="login-error" role="alert" hidden></p>
  </form>
</section>
<section id="view-mfa-certificate" class="card" hidden>
  <h1>${m('mfa.certificateHeading')}</h1>
  <p>${m('mfa.certificateIntro')}</p>
  <button type="button" id="certificate-submit">${m('mfa.certificateSubmit')}</button>
  <button type="button" class="secondary cancel">${m('mfa.cancel')}</button>
  <p class="error" id="certificate-error" role="alert" hidden></p>
</section>
<section id="view-mfa-totp" class="card" hidden>
  <h1>${m('mfa.totpHeading')}</h1>
  <div id="totp-enrol" hidden>
    <p>${m('mfa.totpEnrolIntro')}</p>
    <img id="totp-qr" alt="" width="240" height="240">
    <p><code id="totp-secret"></code></p>
  </div>
  <p id="totp-intro">${m('mfa.totpIntro')}</p>
  <form id="totp-form">
    <label>${m('mfa.totpCode')} <input id="totp-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required></label>
    <button type="submit" id="totp-submit">${m('mfa.totpSubmit')}</button>
    <button type="button" class="secondary cancel">${m('mfa.cancel')}</button>
    <p class="error" id="totp-error" role="alert" hidden></p>
  </form>
</section>
<section id="view-mfa-duo" class="card" hidden>
  <h1>${m('mfa.duoHeading')}</h1>
  <p>${m('mfa.duoIntro')}</p>
  <button type="button" id="duo-submit">${m('mfa.duoSubmit')}</button>
  <button type="button" class="secondary cancel">${m('mfa.cancel')}</button>
  <p class="error" id="duo-error" role="alert" hidden></p>
</section>
<section id="view-change" class="card" hidden>
  <h1>${m('login.changeHeading')}</h1>
  <p>${m('login.changeIntro')}</p>
  <form id="change-form">
    <label>${m('login.currentPassword')} <input id="current-password" type="password" autocomplete="current-password" required maxlength="1024"></label>
    <label>${m('login.newPassword')} <input id="new-password" type="password" autocomplete="new-password" required maxlength="1024"></label>
    <label>${m('login.confirmPassword')} <input id="confirm-password" type="password" autocomplete="new-password" required maxlength="1024"></label>
    <button type="submit" id="change-submit">${m('login.changeSubmit')}</button>
    <p class="error" id="change-error" role="alert" hidden></p>
  </form>
</section>
</main>
<div id="view-home" hidden><div id="console"></div></div>
</body>
</html>
`;
}

export interface PageRouteOptions {
  /** For the default language when the browser names none we have. */
  settings: SettingsService;
}

export const pageRoutes: FastifyPluginAsync<PageRouteOptions> = async (app, { settings: settingsService }) => {
  const consoleFiles = readConsoleManifest();
  const assets = new Map<string, { type: string; body: Buffer; immutable: boolean }>();
  for (const [name, type] of Object.entries(FIXED_ASSETS)) assets.set(name, { type, body: readFileSync(path.join(PUBLIC_DIR, name)), immutable: false });
  assets.set(consoleFiles.js, { type: JS, body: readFileSync(path.join(PUBLIC_DIR, consoleFiles.js)), immutable: true });
  assets.set(consoleFiles.css, { type: CSS, body: readFileSync(path.join(PUBLIC_DIR, consoleFiles.css)), immutable: true });
  for (const chunk of consoleFiles.chunks) assets.set(chunk, { type: JS, body: readFileSync(path.join(PUBLIC_DIR, chunk)), immutable: true });

  const page = async (request: FastifyRequest, styleNonce: string) => {
    const settings = await settingsService.current();
    return renderShell(negotiateLanguage(request.headers['accept-language'], settings.defaultLanguage), consoleFiles, styleNonce);
  };
  // The console's routes are the browser's history paths: the same shell answers them all and the bundle
  // picks the page; what a page shows still comes from the API, which checks every call.
  for (const url of ['/', '/login', '/console', '/console/*']) {
    app.get(url, { config: { access: 'public' } }, async (request, reply) => {
      // A fresh nonce per answer (the shell is never cached): a page cannot be made to carry a known one.
      const styleNonce = randomBytes(18).toString('base64');
      return reply.type('text/html; charset=utf-8').header('content-security-policy', csp(styleNonce)).header('cache-control', 'no-store').send(await page(request, styleNonce));
    });
  }
  app.get<{ Params: { name: string } }>('/assets/:name', { config: { access: 'public' } }, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such resource' });
    return reply.type(asset.type).header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache').send(asset.body);
  });
};
