// Issue 13's walk through the web console in Debian's Chromium against the real web daemon, each role in its own
// browser context signed in through the login form. The administrator creates the privileged user on the Users
// page (who signs in with the one-time password and changes it), imports devices from a CSV with a bad row (the
// report names it), creates a credential, builds an access group (the user, the device, the credential, the
// approver, a time window drawn on the grid, approval required, password view allowed). The user asks on My
// access for a session and a password view; the approver approves both in the inbox; the user sees the session
// approved and views the password (a reason asked, the secret shown, hidden by itself after 30 s of the page's
// jumped clock). The administrator installs a CA and sees it listed, changes a setting; the auditor reads the
// audit trail (every act of the walk in it) and verifies the chain. Every page each role opens passes axe-core
// without a serious violation; the keyboard alone reaches the navigation and each main page's primary control;
// the walk's core in German (administrator, user, approver) leaves no English on the way. Every step is checked
// against the API afterwards, by an administrator who never signs in through the browser.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { createCa } from '../helpers/pki.js';
import path from 'node:path';
import { strongPassword, tempDir } from '../helpers/fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { ensureTargetAccount } from '../helpers/terminal-proxy.js';
import { englishLeftovers, focused, seriousViolations, startConsoleLab, tabTo, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { ApiClient, signInAccounts } from '../helpers/web-daemon.js';

const SECRET = 'Walk-R00t-Secret-42';
/** The credential's account: a local account of the lab's real sshd (db01), whose password is SECRET. */
const ACCOUNT = 'wwalkops';

describe('console: the walk of issue 13 (administrator, privileged user, approver, auditor)', () => {
  let lab: ConsoleLab;
  let sshd: Sshd;
  let work: ReturnType<typeof tempDir>;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};
  /** Signed in through the browser by the administrator's walk, kept for the later steps (one session per account). */
  let user: Page;
  /**
   * Step 7 of the issue runs through all the others: axe-core's serious violations of every page each role sees,
   * "role page: violation", asserted empty at the end of each step.
   */
  const problems: string[] = [];

  before(async () => {
    // db01 is a real sshd with the credential's account, for the terminal step.
    work = tempDir('warden-walk-');
    sshd = await startSshd(path.join(work.dir, 'sshd'));
    ensureTargetAccount(ACCOUNT, SECRET);
    lab = await startConsoleLab();
    // The approver and the auditor exist before the walk (the walk creates the privileged user through the
    // Users page); checker is an administrator for the API checks, never signed in through the browser.
    await signInAccounts(lab.admin, lab.d, [['anna', 'privileged-access-user'], ['olga', 'auditor'], ['checker', 'administrator']] as const, clients, ids, passwords);
  });
  after(async () => {
    await lab?.stop();
    await sshd?.stop();
    work?.cleanup();
  });

  const api = () => clients.checker!;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape, asserted by the test
  const get = async (path: string): Promise<any> => {
    const r = await api().call('GET', path);
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return r.json;
  };
  /** The page has drawn its heading and loads nothing any more. */
  const settled = (page: Page) => waitUntil(page, `!!document.querySelector('#page h1') && !document.querySelector('#page [aria-busy="true"]')`);
  const atHome = async (page: Page) => {
    await page.locator('#welcome').waitFor();
    await settled(page);
  };
  /** The HTML5 terminal's screen (xterm.js's rows) matches `pattern` (a RegExp source, multiline). */
  const terminalShows = (page: Page, pattern: string) =>
    waitUntil(page, `new RegExp(${JSON.stringify(pattern)}, 'm').test(document.querySelector('#terminal .xterm-rows')?.innerText ?? '')`, 15_000);
  /** axe-core on the page as it is now; its findings are asserted at the end of the step. */
  async function axe(page: Page, where: string): Promise<void> {
    problems.push(...(await seriousViolations(page)).map((v) => `${where}: ${v}`));
  }
  async function noProblems(): Promise<void> {
    assert.deepEqual(problems.splice(0), []);
  }
  const nav = async (page: Page, path: string) => {
    await page.locator(`#nav a[href="${path}"]`).click();
    await page.waitForURL(`${lab.origin}${path}`);
    await settled(page);
  };
  const target = (device: string, credential: string) => `#target-${ids[device]}-${ids[credential]}`;
  const stateOf = (page: Page, device: string, credential: string, purpose: string) => page.locator(`${target(device, credential)} li[data-purpose="${purpose}"]`).getAttribute('data-state');
  const credentialRow = (page: Page, username: string, hostname: string) => page.locator(`#credentials tr[data-credential="${username}@${hostname}"]`);
  /** The import report's rows: [line, hostname, outcome, reason]. */
  const report = (page: Page) => page.evaluate<string[][]>(`[...document.querySelectorAll('#import-report tbody tr')].map((r) => [...r.children].map((c) => c.textContent.trim()))`);
  const marked = (page: Page) => page.evaluate<string[]>(`[...document.querySelectorAll('#week-grid td[aria-selected="true"]')].map((c) => c.getAttribute('data-cell'))`);

  async function createUser(page: Page, u: { username: string; fullName: string; profile: string }): Promise<string> {
    await page.locator('#new-user').click();
    await page.locator('#new-username').fill(u.username);
    await page.locator('#new-fullname').fill(u.fullName);
    await page.locator('#new-email').fill(`${u.username}@example.test`);
    await page.locator('#new-profile').selectOption(u.profile);
    await page.locator('#create-submit').click();
    await page.locator('#one-time-password').waitFor({ state: 'visible' });
    return (await page.locator('#one-time-password').textContent()) ?? '';
  }
  async function importCsv(page: Page, csv: string): Promise<void> {
    await page.locator('#import-open').click();
    await page.locator('#import-csv').fill(csv);
    await page.locator('#import-submit').click();
    await page.locator('#import-report').waitFor();
  }
  async function createCredential(page: Page, device: string, address: string, username: string, secret: string): Promise<void> {
    await page.locator('#new-credential').click();
    await page.locator('#cred-device-q').fill(device);
    await page.locator('#cred-device-find').click();
    await page.locator('#cred-device option', { hasText: `${device} (${address})` }).waitFor({ state: 'attached' });
    await page.locator('#cred-device').selectOption({ label: `${device} (${address})` });
    await page.locator('#cred-username').fill(username);
    await page.locator('#cred-secret').fill(secret);
    await page.locator('#cred-submit').click();
    await credentialRow(page, username, device).waitFor();
  }
  async function pick(page: Page, kind: string, text: string, name: string): Promise<void> {
    await page.locator(`#pick-${kind}`).fill(text);
    await page.locator(`#pick-${kind}-results li[data-name="${name}"] button`).click();
    await page.locator(`#members-${kind}-list tr[data-name="${name}"]`).waitFor();
  }
  /** On My access: ask for `purpose` of one target with a reason (the purpose is chosen when both are open). */
  async function requestAccess(page: Page, device: string, credential: string, purpose: 'session' | 'password-view', reason: string): Promise<void> {
    await page.locator(`#request-${ids[device]}-${ids[credential]}`).click();
    await page.locator('#request-reason').fill(reason);
    if ((await page.locator('#request-purpose').count()) > 0) await page.locator('#request-purpose').selectOption(purpose);
    else assert.equal(await page.locator('#request-form input[name="purpose"]').inputValue(), purpose);
    await page.locator('#request-submit').click();
    await page.locator('#request-form').waitFor({ state: 'detached' });
  }
  /** In the approvals inbox: approve the one request whose purpose reads `purposeLabel`, with a comment; returns its id. */
  async function approve(page: Page, purposeLabel: string, comment: string): Promise<number> {
    const row = page.locator('#inbox tbody tr', { hasText: purposeLabel });
    await row.waitFor();
    const id = Number((await row.getAttribute('id'))!.slice('inbox-'.length));
    await page.locator(`#approve-${id}`).click();
    await page.locator('#decision-comment').fill(comment);
    await page.locator('#decision-submit').click();
    await page.locator(`#inbox-${id}`).waitFor({ state: 'detached' });
    return id;
  }

  test('1. the administrator: a user on the Users page, devices from a CSV with a bad row, a credential, an access group with a time window and an approver', async () => {
    const admin = await lab.signedIn('admin', lab.adminPassword);
    await atHome(admin);
    await axe(admin, 'admin home');

    // Users: the privileged user, with a one-time password the user changes at the first sign-in.
    await nav(admin, '/console/users');
    const otp = await createUser(admin, { username: 'priya', fullName: 'Priya Nair', profile: 'privileged-access-and-view-user' });
    await axe(admin, 'admin users (one-time password)');
    await admin.locator('#one-time-done').click();
    await admin.locator('#users tr[data-username="priya"]').waitFor();
    const priya = (await get('/api/v1/users?q=priya')).users[0];
    assert.deepEqual([priya.username, priya.profile, priya.status], ['priya', 'privileged-access-and-view-user', 'active']);
    ids.priya = priya.id;
    passwords.priya = strongPassword();
    user = await lab.signedIn('priya', otp, { newPassword: passwords.priya, clock: true });
    await user.locator('#dash-my-access').waitFor();
    await settled(user);
    await axe(user, 'user home');
    assert.equal((await new ApiClient(lab.d).login('priya', otp)).status, 401, 'the one-time password is spent');

    // Devices: a CSV of three rows, the middle one bad; the report says which and why; the good ones are listed.
    await nav(admin, '/console/devices');
    await importCsv(admin, `hostname,address,type,connectivity\ndb01,127.0.0.1,Linux,SSH:${sshd.port}\nbad01,not-an-address,Linux,SSH:22\nweb01,127.0.0.2,Linux,SSH:22\n`);
    assert.equal(await admin.locator('#import-summary').textContent(), '2 created, 0 updated, 1 rejected.');
    assert.deepEqual(await report(admin), [
      ['2', 'db01', 'Created', ''],
      ['3', 'bad01', 'Rejected', 'The value in column address is not valid.'],
      ['4', 'web01', 'Created', ''],
    ]);
    await axe(admin, 'admin devices (import report)');
    await waitUntil(admin, `JSON.stringify([...document.querySelectorAll('#devices tbody tr')].map((r) => r.getAttribute('data-hostname'))) === '["db01","web01"]'`);
    const devices = (await get('/api/v1/devices?q=01')).devices as { id: number; hostname: string }[];
    assert.deepEqual(devices.map((d) => d.hostname).sort(), ['db01', 'web01'], 'the bad row made nothing');
    ids.db01 = devices.find((d) => d.hostname === 'db01')!.id;

    // Credentials: the account on db01, its secret typed once and never shown.
    await nav(admin, '/console/credentials');
    await createCredential(admin, 'db01', '127.0.0.1', ACCOUNT, SECRET);
    await admin.locator('.toast', { hasText: `Credential ${ACCOUNT} created.` }).waitFor();
    assert.equal((await admin.content()).includes(SECRET), false);
    await axe(admin, 'admin credentials');
    const root = (await get(`/api/v1/credentials?q=${ACCOUNT}`)).credentials[0];
    assert.deepEqual([root.username, root.deviceId], [ACCOUNT, ids.db01]);
    ids.root = root.id;
    ids[ACCOUNT] = root.id;

    // Access groups: members of each kind through the pickers, a window, then the conditions.
    await nav(admin, '/console/access-groups');
    await axe(admin, 'admin access groups (empty)');
    await admin.locator('#new-group').click();
    await admin.locator('#new-group-name').fill('prod-db');
    await admin.locator('#create-group-submit').click();
    await admin.waitForURL(/\/console\/access-groups\/\d+$/);
    await admin.locator('#group-heading', { hasText: 'prod-db' }).waitFor();
    ids.group = Number(new URL(admin.url()).pathname.split('/').pop());
    await pick(admin, 'users', 'priya', 'priya');
    await pick(admin, 'devices', 'db0', 'db01');
    await pick(admin, 'credentials', ACCOUNT, ACCOUNT);
    await pick(admin, 'approvers', 'anna', 'anna');

    // The window: every hour of the week but one, twelve hours from now in the appliance's time zone (so the
    // walk falls inside it whenever it runs), dragged off down the grid's column from Monday to Sunday.
    const { timeZone } = await get(`/api/v1/access-groups/${ids.group}/summary`);
    const now = Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
    const off = (now + 12) % 24;
    assert.equal((await marked(admin)).length, 168, 'a new group is open at any time');
    await admin.locator(`#week-grid [data-cell="0-${off}"]`).hover();
    await admin.mouse.down();
    await admin.locator(`#week-grid [data-cell="3-${off}"]`).hover();
    await admin.locator(`#week-grid [data-cell="6-${off}"]`).hover();
    await admin.mouse.up();
    assert.deepEqual((await marked(admin)).filter((c) => c.endsWith(`-${off}`)), []);
    assert.equal((await marked(admin)).length, 161);
    await admin.locator('#window-save').click();
    await admin.locator('.toast', { hasText: 'Time windows saved.' }).waitFor();

    await admin.locator('#group-approvalRequired').check();
    await admin.locator('#group-passwordViewAllowed').check();
    await admin.locator('#settings-save').click();
    await admin.locator('.toast', { hasText: 'Settings of prod-db saved.' }).waitFor();
    await axe(admin, 'admin access group page');

    const g = (await get(`/api/v1/access-groups/${ids.group}`)).group;
    assert.deepEqual([g.userIds, g.deviceIds, g.credentialIds, g.approverIds], [[ids.priya], [ids.db01], [ids.root], [ids.anna]]);
    assert.deepEqual([g.approvalRequired, g.passwordViewAllowed, g.sessionAllowed, g.approvalsNeeded], [true, true, true, 1]);
    // The stored windows cover exactly the hours the grid showed: none at `off`, all the others, every day.
    const covered = new Set<string>();
    for (const w of g.timeWindows as { days: number[]; start: string; end: string }[]) {
      const [from, until] = [Number(w.start.slice(0, 2)), w.end === '00:00' ? 24 : Number(w.end.slice(0, 2))];
      for (const d of w.days) for (let h = from; h < until; h++) covered.add(`${d}-${h}`);
    }
    assert.equal(covered.size, 161, JSON.stringify(g.timeWindows));
    assert.ok([0, 1, 2, 3, 4, 5, 6].every((d) => !covered.has(`${d}-${off}`) && covered.has(`${d}-${now}`)), JSON.stringify(g.timeWindows));

    // The group's list shows it with its counts.
    await admin.locator('.crumbs a').click();
    await admin.locator('#groups tr[data-group="prod-db"]').waitFor();
    assert.deepEqual(await admin.locator('#groups tr[data-group="prod-db"] td.num').allTextContents(), ['1', '1', '1', '1']);
    await axe(admin, 'admin access groups');
    await admin.context().close();
    await noProblems();
  });

  test('2–4. the privileged user asks on My access; the approver approves in the inbox; the user views the password (reason, reveal, hidden by itself)', async () => {
    // The user: the target needs approval for both purposes; two requests, the purpose chosen in the form.
    await user.locator('#nav a[href="/console/my-access"]').click();
    await user.locator('#my-access').waitFor();
    await settled(user);
    assert.equal(await stateOf(user, 'db01', ACCOUNT, 'ssh'), 'needs-approval');
    assert.equal(await stateOf(user, 'db01', ACCOUNT, 'password-view'), 'needs-approval');
    assert.equal(await user.locator(`#ssh-${ids.db01}-${ids.root}`).count(), 0, 'no ssh line before access is allowed');
    await axe(user, 'user my access');
    await user.locator(`#request-${ids.db01}-${ids.root}`).click();
    await axe(user, 'user request form');
    await user.locator('#request-form button.secondary').click();
    await user.locator('#request-form').waitFor({ state: 'detached' });
    await requestAccess(user, 'db01', ACCOUNT, 'session', 'patching db01 tonight');
    await requestAccess(user, 'db01', ACCOUNT, 'password-view', 'checking the root password rotation');
    await waitUntil(user, `[...document.querySelectorAll('#my-requests tbody tr')].map((r) => r.getAttribute('data-status')).join() === 'pending,pending'`);
    // Nothing more to ask while both wait (once the page has reloaded the pending requests).
    await waitUntil(user, `document.querySelector('#request-${ids.db01}-${ids.root}') === null && document.querySelectorAll('#my-requests tbody tr').length === 2`);
    const asked = (await get('/api/v1/audit?type=access.request&actor=priya')).events as { detail: unknown }[];
    const purposes = asked.map((e) => (typeof e.detail === 'string' ? JSON.parse(e.detail) : e.detail) as { purpose?: string; reason?: string });
    assert.deepEqual(purposes.map((p) => [p.purpose, p.reason]).sort(), [['password-view', 'checking the root password rotation'], ['session', 'patching db01 tonight']]);

    // The approver: the dashboard counts two, the inbox shows both, each approved with a comment.
    const approver = await lab.signedIn('anna', passwords.anna!);
    await waitUntil(approver, `document.querySelector('#dash-pending')?.textContent === '2'`);
    await axe(approver, 'approver home');
    await nav(approver, '/console/approvals');
    await waitUntil(approver, `document.querySelectorAll('#inbox tbody tr').length === 2`);
    assert.deepEqual(await approver.locator('#inbox tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-requester'))), ['priya', 'priya']);
    assert.match(await approver.locator('#inbox').innerText(), /patching db01 tonight/);
    await axe(approver, 'approver inbox');
    const sessionRequest = await approve(approver, 'Session', 'ok for tonight');
    await axe(approver, 'approver inbox (one left)');
    const viewRequest = await approve(approver, 'Password view', 'ok, once');
    await approver.locator('#inbox-empty').waitFor();
    await axe(approver, 'approver inbox (empty)');
    await nav(approver, '/console/my-access');
    await axe(approver, 'approver my access');
    for (const [id, comment] of [[sessionRequest, 'ok for tonight'], [viewRequest, 'ok, once']] as const) {
      const events = (await get(`/api/v1/audit?type=access.approve&subject=request:${id}`)).events;
      assert.equal(events.length, 1);
      assert.equal(events[0].actor, 'anna');
      assert.equal((typeof events[0].detail === 'string' ? JSON.parse(events[0].detail) : events[0].detail).comment, comment);
    }
    await approver.context().close();

    // The user: both approved, the ssh line offered, the requests say so.
    await user.reload();
    await user.locator('#my-access').waitFor();
    await settled(user);
    assert.equal(await stateOf(user, 'db01', ACCOUNT, 'ssh'), 'approved');
    assert.equal(await stateOf(user, 'db01', ACCOUNT, 'password-view'), 'approved');
    assert.match(await user.locator(target('db01', ACCOUNT)).innerText(), /approved until/);
    assert.match(await user.locator(`#ssh-${ids.db01}-${ids.root}`).innerText(), new RegExp(`^ssh .*priya:${ACCOUNT}@db01@`));
    await waitUntil(user, `[...document.querySelectorAll('#my-requests tbody tr')].map((r) => r.getAttribute('data-status')).join() === 'approved,approved'`);
    await axe(user, 'user my access (approved)');

    // The terminal: from My access to db01's real sshd on the approved session, a command typed; the
    // administrator sees the session live and ends it; it plays back and the search finds the command.
    await user.locator(`#terminal-${ids.db01}-${ids.root}`).click();
    await user.waitForURL(/\/console\/my-access\/terminal\?/);
    await waitUntil(user, `document.querySelector('#terminal-notice')?.dataset.phase === 'open'`, 20_000);
    await terminalShows(user, '\\$\\s*$');
    await user.keyboard.type('echo walk-$((6*7))');
    await user.keyboard.press('Enter');
    await terminalShows(user, '^walk-42\\s*$');
    await axe(user, 'user terminal');
    const admin = await lab.signedIn('admin', lab.adminPassword, { path: '/console/sessions' });
    await waitUntil(admin, `document.querySelector('#live-sessions tbody tr') !== null`);
    const live = admin.locator('#live-sessions tbody tr');
    const sessionId = (await live.getAttribute('data-session'))!;
    assert.match(await live.innerText(), new RegExp(`priya\\s+db01\\s+${ACCOUNT}\\s+SSH`));
    await live.locator('button.end').click();
    await admin.locator('#end-reason').fill('walk: ended by the administrator');
    await admin.locator('#end-confirm').click();
    await waitUntil(user, `document.querySelector('#terminal-notice')?.dataset.phase === 'closed'`);
    assert.equal(await user.locator('#terminal-notice').textContent(), 'The session was ended by an administrator or by policy.');
    await waitUntil(admin, `document.querySelector('#live-none') !== null`, 15_000);
    let recordingId = '';
    for (let i = 0; i < 100 && !recordingId; i++) {
      const r = (await get(`/api/v1/recordings?limit=5`)).recordings.find((x: { sessionId: string; status: string }) => x.sessionId === sessionId && x.status === 'complete');
      if (r) recordingId = r.id;
      else await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(recordingId, 'the terminal session was recorded');
    await admin.goto(`${lab.origin}/console/sessions?tab=search`);
    await admin.locator('#search-command').fill('echo walk-');
    await admin.locator('#search-submit').click();
    const hit = admin.locator(`#search-results tr[data-session="${sessionId}"]`);
    await hit.waitFor();
    assert.match(await hit.innerText(), /priya\s+db01\s+echo walk-\$\(\(6\*7\)\)/);
    await axe(admin, 'admin session search');
    await hit.locator('a.play').click();
    await admin.waitForURL(new RegExp(`/console/sessions/${recordingId}\\?t=\\d+$`));
    await admin.locator('#command-list button.command', { hasText: 'echo walk-$((6*7))' }).waitFor();
    await admin.locator('#command-list button.command', { hasText: 'echo walk-$((6*7))' }).click();
    await waitUntil(admin, `document.querySelector('#player .ap-term-text')?.innerText.includes('walk-42') === true`, 15_000);
    await axe(admin, 'admin playback');
    await admin.context().close();

    // The password: a reason asked in a dialog, the secret with its countdown, hidden by itself after 30 s.
    await nav(user, '/console/credentials');
    await credentialRow(user, ACCOUNT, 'db01').locator('td.view-state', { hasText: 'Allowed' }).waitFor();
    await credentialRow(user, ACCOUNT, 'db01').getByRole('button', { name: 'View password' }).click();
    await user.locator('#view').waitFor({ state: 'visible' });
    await axe(user, 'user reason dialog');
    await user.locator('#view-submit').click();
    assert.equal(await user.locator('#reveal').count(), 0, 'no reason, no secret');
    await user.locator('#view-reason').fill('checking the root password rotation');
    await user.locator('#view-submit').click();
    await user.locator('#revealed-secret').waitFor({ state: 'visible' });
    assert.equal(await user.locator('#revealed-secret').textContent(), SECRET);
    assert.equal(await user.locator('#reveal-countdown').textContent(), 'Hides itself in 30 s');
    await axe(user, 'user revealed secret');
    await user.clock.fastForward(31_000);
    await user.locator('#reveal').waitFor({ state: 'detached' });
    assert.equal(await user.evaluate<boolean>(`document.documentElement.outerHTML.includes(${JSON.stringify(SECRET)})`), false, 'hidden, the secret is nowhere in the page');
    const views = (await get('/api/v1/audit?type=vault.password_view&actor=priya')).events;
    assert.equal(views.length, 1);
    const detail = typeof views[0].detail === 'string' ? JSON.parse(views[0].detail) : views[0].detail;
    assert.deepEqual([views[0].outcome, views[0].subject, detail.reason], ['success', `credential:${ids.root}`, 'checking the root password rotation']);
    await axe(user, 'user credentials');
    await noProblems();
  });

  test('5. the administrator installs a CA and sees it listed, and changes a setting', async () => {
    const admin = await lab.signedIn('admin', lab.adminPassword);
    await atHome(admin);
    const ca = await createCa('Walk Root CA');
    await nav(admin, '/console/certificates');
    await admin.locator('#ca-install-file').setInputFiles({ name: 'walk-root.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(ca.pem) });
    await admin.locator('#ca-install-submit').click();
    await admin.locator('.toast', { hasText: 'Installed: ' }).waitFor();
    const listed = admin.locator('#ca-list tr[data-subject="CN=Walk Root CA, O=Warden Test"]');
    await listed.waitFor();
    assert.equal(await listed.locator('td.status').textContent(), 'Active');
    assert.deepEqual((await get('/api/v1/pki/cas')).cas.map((c: { subject: string; active: boolean }) => [c.subject, c.active]), [['CN=Walk Root CA, O=Warden Test', true]]);
    await axe(admin, 'admin certificates');

    await nav(admin, '/console/settings');
    await admin.locator('#lockout-maxAttempts').waitFor();
    assert.equal(await admin.locator('#lockout-maxAttempts').inputValue(), '5');
    await admin.locator('#lockout-maxAttempts').fill('7');
    await admin.locator('#save-lockout').click();
    await admin.locator('.toast', { hasText: 'Settings saved.' }).waitFor();
    assert.equal((await get('/api/v1/settings')).settings.lockout.maxAttempts, 7);
    await axe(admin, 'admin settings');

    // The credential's password: checked against the real sshd (it works), then rotated there, confirmed first.
    await nav(admin, '/console/credentials');
    const row = credentialRow(admin, ACCOUNT, 'db01');
    assert.equal(await row.locator('td.password-check').getAttribute('data-state'), 'unchecked');
    await row.locator('button.check').click();
    await admin.locator('.toast', { hasText: `The vaulted password of ${ACCOUNT} on db01 logs in.` }).waitFor();
    await waitUntil(admin, `document.querySelector('#credentials tr[data-credential="${ACCOUNT}@db01"] td.password-check')?.dataset.state === 'working'`);
    await row.locator('button.rotate').click();
    await admin.locator('#rotate-confirm').waitFor();
    assert.equal((await focused(admin)).id, 'rotate-confirm-cancel', 'the safe choice has the focus');
    await axe(admin, 'admin rotate confirmation');
    await admin.locator('#rotate-confirm-submit').click();
    await admin.locator('.toast', { hasText: `The password of ${ACCOUNT} on db01 was rotated.` }).waitFor({ timeout: 30_000 });
    const versions = (await get(`/api/v1/credentials/${ids.root}/versions`)).versions;
    assert.deepEqual(versions.map((v: { version: number; source: string; by: string }) => [v.version, v.source, v.by]), [[2, 'rotation', 'admin'], [1, 'create', 'admin']]);
    const [rotated] = (await get(`/api/v1/audit?type=credential.rotate&subject=credential:${ids.root}`)).events;
    assert.equal(rotated.outcome, 'success');

    // The pages the walk has not opened yet, for axe: My access, the sessions list and the audit trail.
    await nav(admin, '/console/my-access');
    await axe(admin, 'admin my access');
    await nav(admin, '/console/sessions');
    await axe(admin, 'admin sessions');
    await nav(admin, '/console/audit');
    await admin.locator('#audit-events tbody tr').first().waitFor();
    await axe(admin, 'admin audit');
    await admin.context().close();
    await noProblems();
  });

  test('6. the auditor reads the audit trail: every act of the walk is there, and the chain verifies', async () => {
    const auditor = await lab.signedIn('olga', passwords.olga!);
    await auditor.locator('#dash-failed-logins').waitFor();
    await settled(auditor);
    await axe(auditor, 'auditor home');
    await nav(auditor, '/console/audit');
    await auditor.locator('#audit-events tbody tr').first().waitFor();
    const walk: [type: string, actor: string, text: RegExp][] = [
      ['user.create', 'admin', /priya/],
      ['device.import', 'admin', /./],
      ['credential.create', 'admin', /./],
      ['access_group.create', 'admin', /prod-db/],
      ['access.request', 'priya', /./],
      ['access.approve', 'anna', /./],
      ['vault.password_view', 'priya', /checking the root password rotation/],
      ['pki.ca_install', 'admin', /Walk Root CA/],
      ['settings.change', 'admin', /lockout/],
    ];
    for (const [type, actor, text] of walk) {
      await auditor.locator('#audit-type').selectOption(type);
      await auditor.locator('#audit-actor').fill(actor);
      await auditor.locator('#audit-filter-submit').click();
      await waitUntil(auditor, `(() => {
        const rows = [...document.querySelectorAll('#audit-events tbody tr')];
        return rows.length > 0 && rows.every((r) => r.getAttribute('data-type') === ${JSON.stringify(type)});
      })()`);
      assert.match(await auditor.locator('#audit-events tbody').innerText(), text, type);
    }
    assert.equal(await auditor.locator('#audit-events tbody tr').count(), 1, 'one settings change');
    await auditor.locator('#verify-chain').click();
    await auditor.locator('#chain-verdict', { hasText: 'Chain intact' }).waitFor();
    assert.match((await auditor.locator('#chain-verdict').textContent()) ?? '', /^Chain intact: \d+ events verified\.$/);
    await axe(auditor, 'auditor audit');
    // The auditor reads the other pages of the profile without a way to change them.
    for (const path of ['/console/users', '/console/devices', '/console/credentials', '/console/certificates', '/console/settings', '/console/sessions']) {
      await nav(auditor, path);
      await axe(auditor, `auditor ${path}`);
    }
    assert.equal(await auditor.locator('#nav a[href="/console/access-groups"]').count(), 0);
    await auditor.context().close();
    await noProblems();
  });

  test('8. the keyboard alone: the skip link, then the navigation and each main page’s primary control', async () => {
    const admin = await lab.signedIn('admin', lab.adminPassword);
    await atHome(admin);
    const blur = (page: Page) => page.evaluate('document.activeElement?.blur()');
    const focusOn = (page: Page, id: string) => waitUntil(page, `document.activeElement?.id === ${JSON.stringify(id)}`, 5000);
    /** From the top of the page, by Tab and Enter only: the nav link `label`, then the page's heading has the focus. */
    async function navigateTo(page: Page, label: string, path: string): Promise<void> {
      await blur(page);
      await tabTo(page, (f) => f.tag === 'A' && f.text === label);
      await page.keyboard.press('Enter');
      await page.waitForURL(`${lab.origin}${path}`);
      await waitUntil(page, `document.activeElement?.tagName === 'H1'`, 5000);
      await settled(page);
    }

    // The first Tab from the top is the skip link; Enter moves the focus to the page area.
    await blur(admin);
    await admin.keyboard.press('Tab');
    assert.equal((await focused(admin)).text, 'Skip to content');
    await admin.keyboard.press('Enter');
    await focusOn(admin, 'page');
    // Home: from the page area, Tab reaches the dashboard's link to the sessions, and Enter follows it.
    await tabTo(admin, (f) => f.tag === 'A' && f.text === 'See all sessions');
    await admin.keyboard.press('Enter');
    await admin.waitForURL(`${lab.origin}/console/sessions`);

    // Users: the create button; its form opens with the focus in its first field.
    await navigateTo(admin, 'Users', '/console/users');
    await tabTo(admin, (f) => f.id === 'new-user');
    await admin.keyboard.press('Enter');
    await focusOn(admin, 'new-username');
    // Devices: the import opens and takes the focus.
    await navigateTo(admin, 'Devices', '/console/devices');
    await tabTo(admin, (f) => f.id === 'import-open');
    await admin.keyboard.press('Enter');
    await admin.locator('#import-devices').waitFor();
    await tabTo(admin, (f) => f.id === 'import-csv');
    // Audit trail: verify the chain by keyboard.
    await navigateTo(admin, 'Audit trail', '/console/audit');
    await tabTo(admin, (f) => f.id === 'verify-chain');
    await admin.keyboard.press('Enter');
    await admin.locator('#chain-verdict', { hasText: 'Chain intact' }).waitFor();
    // Home again, by the navigation.
    await navigateTo(admin, 'Home', '/console');
    assert.equal((await focused(admin)).id, 'welcome');
    await admin.context().close();

    // My access, as the user: the filter by keyboard (type, Enter) filters on the server.
    const page = await lab.signedIn('priya', passwords.priya!);
    await atHome(page);
    await navigateTo(page, 'My access', '/console/my-access');
    await tabTo(page, (f) => f.id === 'my-access-q');
    await page.keyboard.type('db01');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${lab.origin}/console/my-access?q=db01`);
    await page.locator(target('db01', ACCOUNT)).waitFor();
    // Credentials: the view button of the row is reached by Tab and opens the reason dialog with the focus in it.
    await navigateTo(page, 'Credentials', '/console/credentials');
    await tabTo(page, (f) => f.tag === 'BUTTON' && f.text === 'View password');
    await page.keyboard.press('Enter');
    await focusOn(page, 'view-reason');
    await page.keyboard.press('Escape');
    await page.locator('#view').waitFor({ state: 'detached' });
    await page.context().close();
  });

  test('9. in German: the administrator, the user and the approver walk again, and no English is left on the way', async () => {
    const texts: string[] = [];
    /**
     * The page's visible text, but for the cells matching `data` (what users and the appliance wrote: a CA's
     * subject, an audit event's subject and detail), which are no console text in any language.
     */
    const seen = async (page: Page, data = '') =>
      texts.push(
        await page.evaluate<string>(`(() => {
          const hidden = ${JSON.stringify(data)} ? [...document.querySelectorAll(${JSON.stringify(data)})] : [];
          hidden.forEach((el) => (el.style.display = 'none'));
          const text = document.body.innerText;
          hidden.forEach((el) => (el.style.display = ''));
          return text;
        })()`),
      );

    // The administrator: a user, an import with a bad row, a credential, the group's new member.
    const admin = await lab.signedIn('admin', lab.adminPassword, { locale: 'de-DE' });
    assert.equal(await admin.locator('html').getAttribute('lang'), 'de');
    await atHome(admin);
    await seen(admin);
    await nav(admin, '/console/users');
    await seen(admin);
    const otp = await createUser(admin, { username: 'klaus', fullName: 'Klaus Weber', profile: 'auditor' });
    assert.equal((await new ApiClient(lab.d).login('klaus', otp)).json.passwordChangeRequired, true);
    await seen(admin);
    await admin.locator('#one-time-done').click();
    await nav(admin, '/console/devices');
    await importCsv(admin, 'hostname,address\napp02,127.0.0.3\napp03,kein-adresse\n');
    await seen(admin);
    assert.deepEqual((await report(admin)).map((r) => r[1]), ['app02', 'app03']);
    assert.equal((await get('/api/v1/devices?q=app0')).devices.length, 1);
    await nav(admin, '/console/credentials');
    await createCredential(admin, 'db01', '127.0.0.1', 'backup', 'Backup-S3cret-77');
    await seen(admin);
    ids.backup = (await get('/api/v1/credentials?q=backup')).credentials[0].id;
    await nav(admin, '/console/access-groups');
    await seen(admin);
    await admin.locator('#groups a', { hasText: 'prod-db' }).click();
    await admin.locator('#group-heading').waitFor();
    await pick(admin, 'credentials', 'backup', 'backup');
    await seen(admin);
    assert.deepEqual((await get(`/api/v1/access-groups/${ids.group}`)).group.credentialIds.sort(), [ids.root, ids.backup].sort());
    const data: Record<string, string> = {
      '/console/certificates': '#ca-list th[scope="row"]',
      '/console/settings': '',
      '/console/audit': '#audit-events td.detail, #audit-events td:nth-child(6)',
    };
    for (const [path, cells] of Object.entries(data)) {
      await nav(admin, path);
      await seen(admin, cells);
    }
    await admin.context().close();

    // The user asks for a session on the new account.
    const de = await lab.signedIn('priya', passwords.priya!, { locale: 'de-DE', path: '/console/my-access' });
    await de.locator('#my-access').waitFor();
    await settled(de);
    await seen(de);
    await de.locator(`#request-${ids.db01}-${ids.backup}`).click();
    await seen(de);
    await de.locator('#request-reason').fill('Sicherung prüfen');
    await de.locator('#request-purpose').selectOption('session');
    await de.locator('#request-submit').click();
    await de.locator('#request-form').waitFor({ state: 'detached' });
    await waitUntil(de, `document.querySelector('#my-requests tbody tr')?.getAttribute('data-status') === 'pending'`);
    await seen(de);

    // The approver approves it.
    const approver = await lab.signedIn('anna', passwords.anna!, { locale: 'de-DE' });
    await waitUntil(approver, `document.querySelector('#dash-pending')?.textContent === '1'`);
    await seen(approver);
    await nav(approver, '/console/approvals');
    await approver.locator('#inbox tbody tr').waitFor();
    await seen(approver);
    const id = Number((await approver.locator('#inbox tbody tr').getAttribute('id'))!.slice('inbox-'.length));
    await approver.locator(`#approve-${id}`).click();
    await approver.locator('#decision-comment').fill('in Ordnung');
    await seen(approver);
    await approver.locator('#decision-submit').click();
    await approver.locator('#inbox-empty').waitFor();
    await seen(approver);
    await approver.context().close();

    // The user sees it approved, and the other pages of the profile.
    await de.reload();
    await de.locator('#my-access').waitFor();
    await settled(de);
    assert.equal(await stateOf(de, 'db01', 'backup', 'ssh'), 'approved');
    await seen(de);
    await nav(de, '/console/credentials');
    await credentialRow(de, ACCOUNT, 'db01').waitFor();
    await seen(de);
    await nav(de, '/console');
    await seen(de);
    await de.context().close();

    assert.deepEqual(englishLeftovers(texts, 'de', ['console.', 'home.']), []);
  });
});
