// The console's Sessions page in Debian's Chromium against the real web daemon, the real terminal proxy (a
// process) and a real sshd target: a privileged-access user runs `echo console-marker` in an interactive
// OpenSSH session through the proxy; while it is open the administrator sees it in the live list and ends it;
// then the history lists its recording, playback (asciinema-player, under the console's CSP) shows the
// terminal, a click on the command in the list beside the player moves it there, and the search finds the
// command and opens playback. An auditor reads it all (no end button); a privileged-access user sees no
// Sessions page and the API refuses them. The auditor's walk in French leaves no English; axe finds nothing
// serious.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { signInAccounts, type ApiClient } from '../helpers/web-daemon.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { ensureTargetAccount, runClient, startTerminalProxy, type ClientRun, type RunningProxy } from '../helpers/terminal-proxy.js';
import { tempDir } from '../helpers/fixtures.js';
import { Appliance } from '../../appliance/index.js';
import { decodePng } from '../../appliance/recording/index.js';
import { RGB565, bitmapUpdateData, demandActive, licenseValidClient, slowPathUpdate, solid, uncompressedRows } from '../helpers/rdp-frames.js';
import { loadConfig } from '../../appliance/config/index.js';

/** This suite's own account on the target (suites may run at once, each setting its own password). */
const TARGET_USER = 'wconsole';

/** The PNG pictures of a multipart/x-mixed-replace answer, in order. */
function framesOf(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = body.indexOf('--warden-frame\r\n'); at >= 0; at = body.indexOf('--warden-frame\r\n', at + 1)) {
    const head = body.indexOf('\r\n\r\n', at);
    const length = Number(/Content-Length: (\d+)/.exec(body.subarray(at, head).toString('latin1'))![1]);
    out.push(body.subarray(head + 4, head + 4 + length));
  }
  return out;
}

/** The RGB of a picture's first pixel. */
function pixelOf(png: Buffer): number[] {
  const { rgba } = decodePng(png);
  return [rgba[0]!, rgba[1]!, rgba[2]!];
}
const ADMIN = { username: 'admin', ip: '127.0.0.1' };

describe('console: sessions (live, history, playback, search)', { timeout: 300_000 }, () => {
  let lab: ConsoleLab;
  let sshd: Sshd;
  let proxy: RunningProxy;
  let work: { dir: string; cleanup: () => void };
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  let sessionId = '';
  let recordingId = '';
  const problems: string[] = [];

  before(async () => {
    lab = await startConsoleLab();
    await signInAccounts(lab.admin, lab.d, [['ops', 'privileged-access-user'], ['audit', 'auditor']] as const, clients, ids, passwords);
    work = tempDir('warden-console-sessions-');
    sshd = await startSshd(path.join(work.dir, 'sshd'));
    const targetPassword = `T4rget-${randomBytes(12).toString('hex')}`;
    ensureTargetAccount(TARGET_USER, targetPassword);
    const device = await lab.admin.call('POST', '/api/v1/devices', { hostname: 'db01', address: '127.0.0.1', connectivity: `SSH:${sshd.port}` });
    assert.equal(device.status, 201, device.body);
    const credential = await lab.admin.call('POST', '/api/v1/credentials', { deviceId: device.json.device.id, username: TARGET_USER, secret: targetPassword });
    assert.equal(credential.status, 201, credential.body);
    const group = await lab.admin.call('POST', '/api/v1/access-groups', { name: 'ops', userIds: [ids.ops], deviceIds: [device.json.device.id], credentialIds: [credential.json.credential.id] });
    assert.equal(group.status, 201, group.body);
    proxy = await startTerminalProxy(lab.home);
  });

  after(async () => {
    await proxy?.stop();
    await sshd?.stop();
    await lab?.stop();
    work?.cleanup();
  });

  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  test('the administrator sees the live session and ends it; the history lists its recording; playback shows it and the command list moves it; the search opens it', async () => {
    // The user's interactive shell: prompt, the command, its output; then the session stays open until ended.
    let typed = false;
    let printed: () => void = () => undefined;
    const shown = new Promise<void>((resolve) => (printed = resolve));
    const client: Promise<ClientRun> = runClient('ssh', ['-p', String(proxy.port), '-l', `ops:${TARGET_USER}@db01`, '-tt', '127.0.0.1'], passwords.ops!, {
      timeoutMs: 120_000,
      onOutput: (all, write) => {
        if (!typed && /\$ $/.test(all)) {
          typed = true;
          write('echo console-marker\r');
        } else if (typed && /\r\nconsole-marker\r\n[\s\S]*\$ $/.test(all)) printed();
      },
    });
    await shown;

    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/sessions' });
    assert.ok(await page.locator('#nav a[href="/console/sessions"]').isVisible());
    // The one stylesheet holds the player's CSS (imported by the page's script), this page's, and the console's.
    const css = await (await page.request.get(`${lab.origin}${await page.locator('link[href^="/assets/console-"]').getAttribute('href')}`)).text();
    for (const rule of ['.ap-wrapper', '.playback-layout', '.topbar']) assert.ok(css.includes(rule), rule);
    await waitUntil(page, `document.querySelector('#live-sessions tbody tr') !== null`);
    const row = page.locator('#live-sessions tbody tr');
    assert.equal(await row.count(), 1);
    sessionId = (await row.getAttribute('data-session'))!;
    assert.match(await row.innerText(), /ops\s+db01\s+wconsole\s+SSH\s+127\.0\.0\.1/);
    problems.push(...(await seriousViolations(page)).map((p) => `live: ${p}`));

    await row.locator('button.end').click();
    await page.locator('#end-reason').fill('console test: end it');
    problems.push(...(await seriousViolations(page)).map((p) => `end form: ${p}`));
    await page.locator('#end-confirm').click();
    const ended = await client;
    assert.notEqual(ended.code, null, 'the client was disconnected, not killed by the timeout');
    await waitUntil(page, `document.querySelector('#live-none') !== null`, 15_000);
    // (The administrator's API client was signed out when the browser signed in as the same user: one session.)
    const audit = await clients.audit!.call('GET', `/api/v1/audit?type=session.end_requested&subject=${encodeURIComponent(`session:${sessionId}`)}`);
    assert.equal(audit.status, 200, audit.body);
    assert.equal(audit.json.events.length, 1, audit.body);
    assert.equal(audit.json.events[0].detail.reason, 'console test: end it');

    // History: the recording of that session, once the proxy has closed it.
    await page.locator('#tab-history').click();
    await waitUntil(page, `document.querySelector('#recordings tr[data-session="${sessionId}"]') !== null`);
    for (let i = 0; i < 50; i++) {
      const r = await clients.audit!.call('GET', '/api/v1/recordings?limit=1');
      if (r.json.recordings[0]?.status === 'complete') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    await page.locator('#tab-live').click();
    await page.locator('#tab-history').click();
    const rec = page.locator(`#recordings tr[data-session="${sessionId}"]`);
    await waitUntil(page, `document.querySelector('#recordings tr[data-session="${sessionId}"]')?.innerText.includes('Complete') === true`);
    recordingId = (await rec.getAttribute('data-recording'))!;
    problems.push(...(await seriousViolations(page)).map((p) => `history: ${p}`));
    // The filters narrow it: another user's name finds nothing.
    await page.locator('#history-user').fill('nobody');
    await page.locator('#history-filter-submit').click();
    await waitUntil(page, `document.querySelector('#recordings') === null && document.querySelector('.empty') !== null`);
    await page.locator('#history-user').fill('ops');
    await page.locator('#history-device').fill('db01');
    await page.locator('#history-filter-submit').click();
    await waitUntil(page, `document.querySelector('#recordings tr[data-recording="${recordingId}"]') !== null`);

    // Playback: the player is paused at the start; the command in the list moves it to the moment it was run.
    await rec.locator('a.play').click();
    await page.waitForURL(`${lab.origin}/console/sessions/${recordingId}`);
    await waitUntil(page, `document.querySelector('#player .ap-term-text') !== null`);
    await waitUntil(page, `document.querySelector('#command-list button.command') !== null`);
    const command = page.locator('#command-list button.command', { hasText: 'echo console-marker' });
    assert.equal(await command.count(), 1, await text(page, '#command-list'));
    assert.ok(!(await text(page, '#player .ap-term-text')).includes('console-marker'), 'nothing of the command on the screen at the start');
    await command.click();
    await waitUntil(page, `document.querySelector('#player .ap-term-text')?.innerText.includes('console-marker') === true`, 15_000);
    problems.push(...(await seriousViolations(page)).map((p) => `playback: ${p}`));
    // The speed is the player's again, made anew at the same moment.
    await page.locator('#playback-speed').selectOption('4');
    await waitUntil(page, `document.querySelector('#player .ap-term-text') !== null && document.querySelector('#player .ap-term-text').innerText.includes('console-marker')`, 15_000);

    // Search: the command is found at its place, and opens playback there.
    await page.goto(`${lab.origin}/console/sessions?tab=search`);
    await page.locator('#search-command').fill('console-marker');
    await page.locator('#search-submit').click();
    await waitUntil(page, `document.querySelector('#search-results tr[data-session="${sessionId}"]') !== null`);
    const hit = page.locator(`#search-results tr[data-session="${sessionId}"]`);
    assert.match(await hit.innerText(), /ops\s+db01\s+echo console-marker/);
    problems.push(...(await seriousViolations(page)).map((p) => `search: ${p}`));
    await hit.locator('a.play').click();
    await page.waitForURL(new RegExp(`/console/sessions/${recordingId}\\?t=\\d+$`));
    await waitUntil(page, `document.querySelector('#player .ap-playback-button') !== null`);
    await page.locator('#player .ap-playback-button').click();
    await waitUntil(page, `document.querySelector('#player .ap-term-text')?.innerText.includes('console-marker') === true`, 15_000);
  });

  test('an auditor reads sessions (no end button) in French with no English left; a privileged-access user is shown nothing and refused', async () => {
    assert.ok(recordingId, 'the first test made the recording');
    // The auditor may list live sessions but not end one: the API says so too (asked before the browser signs
    // in as the same user and this client's session ends).
    const live = await clients.audit!.call('GET', '/api/v1/sessions/live');
    assert.equal(live.status, 200, live.body);
    assert.equal((await clients.audit!.call('POST', `/api/v1/sessions/${sessionId}/end`, { reason: 'nosy' })).status, 403);
    for (const p of ['/api/v1/sessions/live', '/api/v1/recordings', `/api/v1/recordings/${recordingId}/asciicast`, `/api/v1/recordings/${recordingId}/commands`, '/api/v1/sessions?command=console-marker']) {
      assert.equal((await clients.ops!.call('GET', p)).status, 403, p);
    }
    const page = await lab.signedIn('audit', passwords.audit!, { locale: 'fr', path: '/console/sessions' });
    const texts: string[] = [];
    const look = async () => texts.push(await page.locator('body').innerText());
    assert.equal(await page.locator('#nav a[href="/console/sessions"]').innerText(), 'Sessions');
    await waitUntil(page, `document.querySelector('#live-none') !== null`);
    await look();
    assert.equal(await page.locator('#tab-live').innerText(), 'En cours');

    await page.locator('#tab-history').click();
    await waitUntil(page, `document.querySelector('#recordings tr[data-recording="${recordingId}"]') !== null`);
    assert.equal(await page.locator('#recordings button.end, #recordings a.end').count(), 0);
    await look();
    await page.locator(`#recordings tr[data-recording="${recordingId}"] a.play`).click();
    await waitUntil(page, `document.querySelector('#command-list button.command') !== null && document.querySelector('#player .ap-term-text') !== null`);
    await look();
    // The player's own words are French too: its button labels, its tooltips, its keyboard help once opened.
    const playerWords = () => page.evaluate<string[]>(`[...document.querySelectorAll('#player [aria-label]')].map((e) => e.getAttribute('aria-label')).concat([...document.querySelectorAll('#player .ap-tooltip')].map((e) => e.textContent))`);
    const words = await playerWords();
    for (const w of ['Afficher les raccourcis clavier', 'Basculer en plein écran', 'Plein écran (f)', 'Raccourcis clavier (?)']) assert.ok(words.includes(w), `${w} in ${words.join(' | ')}`);
    await page.locator('#player [aria-label="Afficher les raccourcis clavier"]').click();
    await waitUntil(page, `document.querySelector('#player')?.innerText.includes(' – pause / reprise') === true`);
    await look();
    texts.push(...(await playerWords()));
    await page.goto(`${lab.origin}/console/sessions?tab=search&command=console-marker`);
    await waitUntil(page, `document.querySelector('#search-results tr') !== null`);
    await look();
    await page.goto(`${lab.origin}/console/sessions?tab=search&command=no-such-command-here`);
    await waitUntil(page, `document.querySelector('.empty') !== null`);
    await look();
    assert.deepEqual(englishLeftovers(texts, 'fr'), []);
    problems.push(...(await seriousViolations(page)).map((p) => `search (fr): ${p}`));

    const ops = await lab.signedIn('ops', passwords.ops!);
    assert.equal(await ops.locator('#nav a[href="/console/sessions"]').count(), 0);
    await ops.goto(`${lab.origin}/console/sessions/${recordingId}`);
    await ops.locator('#console nav').waitFor({ state: 'visible' });
    await waitUntil(ops, `document.querySelector('#page h1') !== null`);
    assert.equal(await ops.locator('#player').count(), 0, 'no player for a profile without recordings.view');
  });

  test('an RDP recording plays in the browser as the desktop the server renders, paced, from a chosen second; one audited view per playing', async () => {
    // The RDP proxy's side, in this process: an admitted RDP session whose recording holds what a target sends
    // (a Demand Active, a red then, 600 ms later, a green bitmap update).
    const a = await Appliance.open(loadConfig({ WARDEN_HOME: lab.home.home }));
    let rdpRecording = '';
    try {
      const device = (await a.devices.createDevice(ADMIN, { hostname: 'win01', address: '127.0.0.1', connectivity: 'RDP:3389' })).id;
      const credential = (await a.credentials.createCredential(ADMIN, { deviceId: device, username: 'Administrator', secret: 'Win-S3cret-value' })).id;
      await a.accessGroups.saveGroup(ADMIN, { name: 'windows', userIds: [ids.ops!], deviceIds: [device], credentialIds: [credential] });
      const admitted = await a.sessions.open({ userId: ids.ops!, deviceId: device, credentialId: credential, protocol: 'rdp', source: '127.0.0.1' });
      assert.ok(admitted.admitted, JSON.stringify(admitted));
      const rec = await a.recordings.start(admitted.session, { cols: 64, rows: 48, term: 'rdp' });
      rec.writer.output(licenseValidClient());
      rec.writer.output(demandActive(64, 48));
      rec.writer.output(slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 64, height: 48, bpp: 16, data: uncompressedRows(solid(64, 48, RGB565.red), 16) }])));
      await rec.writer.flush();
      await new Promise((r) => setTimeout(r, 600));
      rec.writer.output(slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 64, height: 48, bpp: 16, data: uncompressedRows(solid(64, 48, RGB565.green), 16) }])));
      await rec.close();
      await admitted.session.close({ reason: 'client-closed' });
      rdpRecording = rec.id;
    } finally {
      await a.close();
    }
    const page = await lab.signedIn('admin', lab.adminPassword, { path: '/console/sessions?tab=history' });
    await waitUntil(page, `document.querySelector('#recordings tr[data-recording="${rdpRecording}"]') !== null`);
    await page.locator(`#recordings tr[data-recording="${rdpRecording}"] a.play`).click();
    // The picture comes in as the stream plays: the recorded desktop's size, in an <img>, no terminal player.
    await page.locator('#rdp-picture').waitFor({ state: 'visible' });
    await waitUntil(page, `document.querySelector('#rdp-picture').naturalWidth === 64`);
    assert.equal(await page.locator('#player').count(), 0);
    problems.push(...(await seriousViolations(page)).map((p) => `rdp playback: ${p}`));
    await page.locator('#rdp-stop').click();
    await page.locator('#rdp-picture').waitFor({ state: 'detached' });

    // The stream itself: PNG pictures in multipart/x-mixed-replace — the desktop at 0 ms (black: nothing drawn
    // yet), red, then green when its moment came (an unchanged picture is not sent twice); started past the
    // end, the desktop as the session ended.
    // Through the administrator's own browser session (signing in there ended any API session of the account).
    const views = async () => ((await (await page.request.get(`${lab.origin}/api/v1/audit?type=recording.view&subject=recording:${rdpRecording}&limit=50`)).json()).events as unknown[]).length;
    const viewsBefore = await views();
    const t0 = Date.now();
    const whole = await page.request.get(`${lab.origin}/api/v1/recordings/${rdpRecording}/frames?speed=1`);
    const took = Date.now() - t0;
    assert.equal(whole.status(), 200);
    assert.match(whole.headers()['content-type'] ?? '', /^multipart\/x-mixed-replace; boundary=warden-frame/);
    const pictures = framesOf(await whole.body());
    assert.deepEqual(pictures.map((p) => pixelOf(p)), [[0, 0, 0], [255, 0, 0], [0, 255, 0]]);
    assert.ok(took >= 450, `paced at the recording's time: the green came ${took} ms after the start`);
    const late = framesOf(await (await page.request.get(`${lab.origin}/api/v1/recordings/${rdpRecording}/frames?from=60000`)).body());
    assert.deepEqual(late.map((p) => pixelOf(p)), [[0, 255, 0]]);
    assert.equal(await views(), viewsBefore + 2, 'each playing is one audited view');
    assert.equal((await page.request.get(`${lab.origin}/api/v1/recordings/${recordingId}/frames`)).status(), 400, 'an SSH recording has no desktop');
  });

  test('axe-core finds no serious violation on the Sessions views', () => {
    assert.deepEqual(problems, []);
  });
});
