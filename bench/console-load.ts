// make bench — the web console's first load: bytes of script and style (raw and gzip) and the time from
// navigation to an interactive console in Debian's Chromium, cold (empty cache) and warm (the hashed bundle
// from the browser's cache), each printed as a ratio to a baseline measured in the same run: the login page
// alone (the same shell and app.js, no console bundle).
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { initializedHome, strongPassword } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon, WEB_MAIN } from '../tests/helpers/web-daemon.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../tests/helpers/chromium.js';

const RUNS = 12;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const home = await initializedHome();
const d = await startWebDaemon(home);
let browser: Browser | undefined;
try {
  const password = strongPassword();
  await new ApiClient(d).loginAndChange('admin', home.oneTimePassword, password);
  const origin = `https://127.0.0.1:${d.httpsPort}`;

  const publicDir = path.join(path.dirname(WEB_MAIN), 'public');
  const manifest = JSON.parse(readFileSync(path.join(publicDir, 'console-manifest.json'), 'utf8')) as { js: string; css: string };
  const size = (file: string) => {
    const body = readFileSync(path.join(publicDir, file));
    return { raw: body.length, gzip: gzipSync(body, { level: 9 }).length };
  };
  const js = size(manifest.js);
  const css = size(manifest.css);
  const loginJs = size('app.js');
  const loginCss = size('app.css');
  console.log(`console bundle: script ${js.raw} B (gzip ${js.gzip} B), style ${css.raw} B (gzip ${css.gzip} B)`);
  console.log(`login page assets (baseline): script ${loginJs.raw} B (gzip ${loginJs.gzip} B), style ${loginCss.raw} B (gzip ${loginCss.gzip} B)`);
  console.log(`first load adds ${(js.gzip + css.gzip)} B gzip: ${((js.gzip + css.gzip + loginJs.gzip + loginCss.gzip) / (loginJs.gzip + loginCss.gzip)).toFixed(1)}× the login page's assets`);

  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  // A signed-in browser state (the session cookie), reused by every fresh context below.
  const signIn = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const p = await signIn.newPage();
  await p.goto(`${origin}/`);
  await p.locator('#username').fill('admin');
  await p.locator('#password').fill(password);
  await p.locator('#login-submit').click();
  await p.locator('#welcome').waitFor();
  const state = await signIn.storageState();
  await signIn.close();

  async function timed(context: BrowserContext, url: string, ready: string): Promise<number> {
    const page = await context.newPage();
    const t0 = performance.now();
    await page.goto(url);
    await page.locator(ready).waitFor({ state: 'visible' });
    const ms = performance.now() - t0;
    await page.close();
    return ms;
  }

  const login: number[] = [];
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const anon = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    login.push(await timed(anon, `${origin}/`, '#view-login'));
    await anon.close();
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', storageState: state });
    cold.push(await timed(ctx, `${origin}/console`, '#welcome'));
    warm.push(await timed(ctx, `${origin}/console`, '#welcome'));
    await ctx.close();
  }
  const base = median(login);
  console.log(`login page interactive (baseline): median ${base.toFixed(0)} ms over ${RUNS} loads`);
  console.log(`console interactive, cold cache: median ${median(cold).toFixed(0)} ms = ${(median(cold) / base).toFixed(2)}× the login page (includes GET /api/v1/me)`);
  console.log(`console interactive, warm cache: median ${median(warm).toFixed(0)} ms = ${(median(warm) / base).toFixed(2)}× the login page`);
} finally {
  await browser?.close();
  await d.stop();
  home.cleanup();
}
