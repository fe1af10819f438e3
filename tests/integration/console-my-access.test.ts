// The dashboard, "My access" and the approvals inbox in Chromium against the real web daemon. The administrator
// makes (through the API) a device behind an access group that needs approval, with a privileged-access user and
// an approver, and an RDP device the user may reach at once. The user sees the first as "needs approval" and
// asks for it with a reason; the approver (in Brazilian Portuguese, with no English left on the way) sees the
// count on the dashboard and the request in the inbox, and approves it with a comment; the user's page then says
// "approved until …" and offers the ssh line. The .rdp download carries a one-time ticket the RDP side redeems
// once. The navigation follows the profile (an auditor sees neither page), axe-core finds no serious violation,
// and the API additions (/me's approver, /my/devices' terminal proxy address and grant end) are checked.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { englishLeftovers, seriousViolations, startConsoleLab, waitUntil, type ConsoleLab } from '../helpers/console-browser.js';
import { ApiClient, signInAccounts } from '../helpers/web-daemon.js';

describe('console: dashboard, my access, approvals', () => {
  let lab: ConsoleLab;
  let rdpSide: Appliance;
  const clients: Record<string, ApiClient> = {};
  const ids: Record<string, number> = {};
  const passwords: Record<string, string> = {};

  before(async () => {
    lab = await startConsoleLab();
    const { admin } = lab;
    await signInAccounts(
      admin,
      lab.d,
      [
        ['priya', 'privileged-access-user'],
        ['anna', 'privileged-access-user'],
        ['olga', 'auditor'],
      ],
      clients,
      ids,
      passwords,
    );
    const made = async (path: string, body: unknown, key: string) => {
      const r = await admin.call('POST', path, body);
      assert.equal(r.status, 201, r.body);
      return r.json[key].id as number;
    };
    ids.db01 = await made('/api/v1/devices', { hostname: 'db01', address: '127.0.0.1', connectivity: 'SSH:22' }, 'device');
    ids.win01 = await made('/api/v1/devices', { hostname: 'win01', address: '127.0.0.2', connectivity: 'RDP:3389' }, 'device');
    ids.root = await made('/api/v1/credentials', { deviceId: ids.db01, username: 'root', secret: 'T0p-Secret-Root-123' }, 'credential');
    ids.adm = await made('/api/v1/credentials', { deviceId: ids.win01, username: 'svc_desk', secret: 'T0p-Secret-Adm-123' }, 'credential');
    ids.dba = await made('/api/v1/access-groups', { name: 'dba', userIds: [ids.priya], deviceIds: [ids.db01], credentialIds: [ids.root], approvalRequired: true, approverIds: [ids.anna] }, 'group');
    ids.desk = await made('/api/v1/access-groups', { name: 'desk', userIds: [ids.priya], deviceIds: [ids.win01], credentialIds: [ids.adm] }, 'group');
    // The RDP side: redeems tickets as the RDP proxy would, in another process over the same store.
    rdpSide = await Appliance.open(loadConfig({ WARDEN_HOME: lab.home.home }), { feedPollMs: 100 });
  });
  after(async () => {
    await rdpSide?.close();
    await lab?.stop();
  });

  const target = (device: number, credential: number) => `#target-${device}-${credential}`;
  /** The state the page shows for one purpose of a target (data-state: the core's state, or "approved"). */
  const stateOf = (page: Page, device: number, credential: number, purpose: string) =>
    page.locator(`${target(device, credential)} li[data-purpose="${purpose}"]`).getAttribute('data-state');
  const text = (page: Page) => page.locator('body').innerText();

  test('API: /me says who approves; /my/devices gives the terminal proxy and the state per purpose', async () => {
    const me = async (c: ApiClient) => (await c.call('GET', '/api/v1/me')).json;
    assert.equal((await me(clients.anna!)).approver, true);
    assert.equal((await me(clients.priya!)).approver, false);
    assert.equal((await me(clients.olga!)).approver, false);
    assert.equal((await me(lab.admin)).approver, false, 'an administrator who approves for no group');
    // The login's answer (the console starts from it when no second factor is due) says it too.
    const again = new ApiClient(lab.d);
    const login = await again.login('anna', passwords.anna!);
    assert.equal(login.status, 200, login.body);
    assert.equal(login.json.approver, true);
    clients.anna = again; // a new sign-in ends the account's earlier web session

    const mine = await clients.priya!.call('GET', '/api/v1/my/devices');
    assert.equal(mine.status, 200, mine.body);
    const config = loadConfig({ WARDEN_HOME: lab.home.home });
    assert.deepEqual(mine.json.sshProxy, { host: config.web.publicHost, port: config.terminalProxy.port });
    const db01 = mine.json.devices.find((d: { hostname: string }) => d.hostname === 'db01');
    assert.equal(db01.credentials[0].states.ssh.state, 'needs-approval');
    assert.equal(db01.credentials[0].states.ssh.grant, undefined);
    const win01 = mine.json.devices.find((d: { hostname: string }) => d.hostname === 'win01');
    assert.equal(win01.credentials[0].states.rdp.state, 'allowed');

    // Paged as the console asks, by query strings (the API coerces no types).
    const first = await clients.priya!.call('GET', '/api/v1/my/devices?limit=1&offset=0');
    assert.equal(first.status, 200, first.body);
    assert.deepEqual([first.json.devices.map((d: { hostname: string }) => d.hostname), first.json.more, first.json.offset], [['db01'], true, 0]);
    const second = await clients.priya!.call('GET', '/api/v1/my/devices?q=win&limit=1&offset=0');
    assert.deepEqual([second.json.devices.map((d: { hostname: string }) => d.hostname), second.json.more], [['win01'], false]);
    const last = await clients.priya!.call('GET', '/api/v1/my/devices?limit=1&offset=1');
    assert.deepEqual([last.json.devices.map((d: { hostname: string }) => d.hostname), last.json.more, last.json.offset], [['win01'], false, 1]);
    assert.equal((await clients.priya!.call('GET', '/api/v1/my/devices?limit=0')).status, 400);

    // The auditor has no device and decides nothing: the inbox is empty and a decision is refused.
    assert.deepEqual((await clients.olga!.call('GET', '/api/v1/my/devices')).json.devices, []);
    assert.equal((await clients.olga!.call('GET', '/api/v1/access-requests/inbox')).json.total, 0);
  });

  test('API: an approver of a disabled group only is no approver; a denied decision to a non-approver', async () => {
    const g = await lab.admin.call('POST', '/api/v1/access-groups', { name: 'old', enabled: false, userIds: [], deviceIds: [], credentialIds: [], approverIds: [ids.olga] });
    assert.equal(g.status, 201, g.body);
    assert.equal((await clients.olga!.call('GET', '/api/v1/me')).json.approver, false);
    const r = await clients.priya!.call('POST', '/api/v1/access-requests', { deviceId: ids.db01, credentialId: ids.root, reason: 'checking the refusal' });
    assert.equal(r.status, 201, r.body);
    assert.equal((await clients.olga!.call('POST', `/api/v1/access-requests/${r.json.request.id}/approve`, { comment: 'no' })).status, 403);
    // Withdrawn again by a denial, so the walk below starts with nothing pending.
    assert.equal((await clients.anna!.call('POST', `/api/v1/access-requests/${r.json.request.id}/deny`, { comment: 'test only' })).status, 200);
  });

  test('the walk: needs approval → request → the approver (pt-BR) approves from the inbox → approved until …; the .rdp file', async () => {
    // The user sees the SSH target as needing approval, the RDP one allowed now.
    const user = await lab.signedIn('priya', passwords.priya!, { path: '/console/my-access' });
    await user.locator('#my-access').waitFor();
    assert.equal(await stateOf(user, ids.db01!, ids.root!, 'ssh'), 'needs-approval');
    assert.equal(await stateOf(user, ids.win01!, ids.adm!, 'rdp'), 'allowed');
    assert.match(await user.locator(target(ids.db01!, ids.root!)).innerText(), /needs approval/);
    assert.equal(await user.locator(`${target(ids.db01!, ids.root!)} li[data-purpose="password-view"]`).count(), 0, 'no password view row for a profile without passwords.view');
    assert.equal(await user.locator(`#ssh-${ids.db01}-${ids.root}`).count(), 0, 'no ssh line before access is allowed');
    assert.deepEqual(await seriousViolations(user), []);

    // Download .rdp: the proxy's address, the one-time ticket as the routing token, the user and device.
    const [download] = await Promise.all([user.waitForEvent('download'), user.locator(`#rdp-${ids.win01}-${ids.adm}`).click()]);
    assert.equal(download.suggestedFilename(), 'win01.rdp');
    const file = readFileSync((await download.path())!, 'utf8');
    const config = loadConfig({ WARDEN_HOME: lab.home.home });
    const { host, port } = config.rdpProxy.publicAddress;
    const lines = file.trimEnd().split('\r\n');
    assert.ok(lines.includes(`full address:s:${host}:${port}`), file);
    assert.ok(lines.includes('username:s:priya@win01'), file);
    assert.ok(lines.includes('prompt for credentials:i:0'), file);
    const ticket = /^loadbalanceinfo:s:tsv:\/\/warden\/([A-Za-z0-9_-]{43})$/m.exec(file)?.[1];
    assert.ok(ticket, file);
    const redeemed = await rdpSide.rdpTickets.redeem(ticket, '127.0.0.1');
    assert.ok(redeemed.redeemed, JSON.stringify(redeemed));
    assert.deepEqual([redeemed.ticket.username, redeemed.ticket.deviceId, redeemed.ticket.credentialId], ['priya', ids.win01, ids.adm]);
    assert.deepEqual(await rdpSide.rdpTickets.redeem(ticket, '127.0.0.1'), { redeemed: false, refusal: 'used' }, 'one time only');

    // The request, with a reason and the wanted period the form proposes.
    await user.locator(`#request-${ids.db01}-${ids.root}`).click();
    await user.locator('#request-reason').fill('patching the database tonight');
    assert.deepEqual(await seriousViolations(user), []);
    await user.locator('#request-submit').click();
    await user.locator('#request-form').waitFor({ state: 'detached' });
    await waitUntil(user, `document.querySelector('#my-requests tbody tr')?.getAttribute('data-status') === 'pending'`);
    assert.match(await user.locator('#my-requests tbody tr').first().innerText(), /patching the database tonight/);
    // No second request while one is pending.
    await waitUntil(user, `document.querySelector('#request-${ids.db01}-${ids.root}') === null`);
    assert.match(await user.locator(target(ids.db01!, ids.root!)).innerText(), /request pending/);

    // The approver, in Brazilian Portuguese: the dashboard counts it, the inbox shows it, approve with a comment.
    const texts: string[] = [];
    const approver = await lab.signedIn('anna', passwords.anna!, { locale: 'pt-BR' });
    await waitUntil(approver, `document.querySelector('#dash-pending')?.textContent === '1'`);
    texts.push(await text(approver));
    assert.deepEqual(await seriousViolations(approver), []);
    await approver.locator('#nav a[href="/console/approvals"]').click();
    await approver.locator('#inbox').waitFor();
    const row = approver.locator('#inbox tbody tr');
    assert.equal(await row.count(), 1);
    assert.equal(await row.getAttribute('data-requester'), 'priya');
    assert.match(await row.innerText(), /patching the database tonight/);
    assert.match(await row.innerText(), /db01/);
    texts.push(await text(approver));
    assert.deepEqual(await seriousViolations(approver), []);
    const requestId = Number((await row.getAttribute('id'))!.slice('inbox-'.length));
    await approver.locator(`#approve-${requestId}`).click();
    await approver.locator('#decision-comment').fill('ok for tonight');
    texts.push(await text(approver));
    assert.deepEqual(await seriousViolations(approver), []);
    await approver.locator('#decision-submit').click();
    await approver.locator('#inbox-empty').waitFor();
    texts.push(await text(approver));
    await approver.locator('#nav a[href="/console"]').click();
    await waitUntil(approver, `document.querySelector('#dash-pending')?.textContent === '0'`);
    texts.push(await text(approver));
    assert.deepEqual(englishLeftovers(texts, 'pt-BR', ['console.', 'home.']), []);

    // The decision is the API's: approved with the comment, audited.
    const decided = await lab.admin.call('GET', `/api/v1/audit?type=access.approve&subject=request:${requestId}`);
    assert.equal(decided.status, 200, decided.body);
    assert.equal(decided.json.events.length, 1);
    assert.equal(decided.json.events[0].detail.comment, 'ok for tonight');

    // The user's page: approved until the end of the wanted period, the ssh line offered, the request approved.
    await user.reload();
    await user.locator('#my-access').waitFor();
    assert.equal(await stateOf(user, ids.db01!, ids.root!, 'ssh'), 'approved');
    assert.match(await user.locator(target(ids.db01!, ids.root!)).innerText(), /approved until/);
    // The terminal proxy's address as the first test saw /my/devices give it (the browser's sign-in ended the API client's session).
    const sshProxy = { host: config.web.publicHost, port: config.terminalProxy.port };
    const expected = `ssh ${sshProxy.port === 22 ? '' : `-p ${sshProxy.port} `}priya:root@db01@${sshProxy.host}`;
    assert.equal(await user.locator(`#ssh-${ids.db01}-${ids.root}`).innerText(), expected);
    await waitUntil(user, `document.querySelector('#my-requests tbody tr')?.getAttribute('data-status') === 'approved'`);
    assert.deepEqual(await seriousViolations(user), []);

    // The same page in pt-BR leaves no English.
    const userPt = await lab.signedIn('priya', passwords.priya!, { locale: 'pt-BR', path: '/console/my-access' });
    await userPt.locator('#my-access').waitFor();
    await userPt.locator('#my-requests').waitFor();
    assert.match(await userPt.locator(target(ids.db01!, ids.root!)).innerText(), /aprovado até/);
    assert.deepEqual(englishLeftovers([await text(userPt)], 'pt-BR', ['console.', 'home.']), []);
  });

  test('emergency access: reason required, granted at once, shown as emergency access', async () => {
    // A second account on db01 behind the same approval: break-glass instead of waiting.
    ids.backup = (await lab.admin.call('POST', '/api/v1/credentials', { deviceId: ids.db01, username: 'backup', secret: 'T0p-Secret-Bak-123' })).json.credential.id;
    assert.equal((await lab.admin.call('PUT', `/api/v1/access-groups/${ids.dba}`, { name: 'dba', userIds: [ids.priya], deviceIds: [ids.db01], credentialIds: [ids.root, ids.backup], approvalRequired: true, approverIds: [ids.anna] })).status, 200);
    const user = await lab.signedIn('priya', passwords.priya!, { path: '/console/my-access' });
    await user.locator(`#emergency-${ids.db01}-${ids.backup}`).click();
    await user.locator('#request-reason').fill('db01 is down, the on-call lead is unreachable');
    await user.locator('#request-submit').click();
    await waitUntil(user, `document.querySelector('${target(ids.db01!, ids.backup!)} li[data-purpose="ssh"]')?.getAttribute('data-state') === 'approved'`);
    assert.match(await user.locator(target(ids.db01!, ids.backup!)).innerText(), /emergency access until/);
    const events = await lab.admin.call('GET', '/api/v1/audit?type=access.emergency');
    assert.equal(events.json.events[0].detail.reason, 'db01 is down, the on-call lead is unreachable');

    // The API behind "emergency access until": the grant the state stands on, and its end.
    const api = new ApiClient(lab.d);
    assert.equal((await api.login('priya', passwords.priya!)).status, 200);
    const mine = await api.call('GET', '/api/v1/my/devices?q=db01');
    const backup = mine.json.devices[0].credentials.find((c: { username: string }) => c.username === 'backup');
    assert.equal(backup.states.ssh.state, 'allowed');
    assert.equal(backup.states.ssh.grant.requestId, events.json.events[0].detail.requestId);
    assert.equal(backup.states.ssh.grant.emergency, true);
    const minutes = (Date.parse(backup.states.ssh.grant.endsAt) - Date.now()) / 60_000;
    assert.ok(minutes > 50 && minutes <= 60, `an emergency grant lasts an hour: ${minutes} min left`);
  });

  test('a target allowed with a reason: the .rdp download asks for it first', async () => {
    const g = await lab.admin.call('PUT', `/api/v1/access-groups/${ids.desk}`, { name: 'desk', userIds: [ids.priya], deviceIds: [ids.win01], credentialIds: [ids.adm], reasonRequired: true });
    assert.equal(g.status, 200, g.body);
    const user = await lab.signedIn('priya', passwords.priya!, { path: '/console/my-access?q=win01' });
    await user.locator('#my-access').waitFor();
    assert.equal(await stateOf(user, ids.win01!, ids.adm!, 'rdp'), 'reason-required');
    await user.locator(`#rdp-${ids.win01}-${ids.adm}`).click();
    await user.locator('#rdp-reason').fill('month-end report');
    assert.deepEqual(await seriousViolations(user), []);
    const [download] = await Promise.all([user.waitForEvent('download'), user.locator('#rdp-reason-submit').click()]);
    const ticket = /^loadbalanceinfo:s:tsv:\/\/warden\/([A-Za-z0-9_-]{43})$/m.exec(readFileSync((await download.path())!, 'utf8'))?.[1];
    assert.ok(ticket);
    const redeemed = await rdpSide.rdpTickets.redeem(ticket, '127.0.0.1');
    assert.ok(redeemed.redeemed, JSON.stringify(redeemed));
    assert.equal(redeemed.ticket.reason, 'month-end report');
  });

  test('navigation follows the profile: the auditor has neither page, the user no inbox, the approver both', async () => {
    const navOf = (page: Page) => page.evaluate<string[]>(`[...document.querySelectorAll('#nav a')].map((a) => a.getAttribute('href'))`);
    const auditor = await lab.signedIn('olga', passwords.olga!);
    await auditor.locator('#dash-failed-logins').waitFor();
    const auditorNav = await navOf(auditor);
    assert.ok(!auditorNav.includes('/console/approvals') && !auditorNav.includes('/console/my-access'), auditorNav.join(' '));
    assert.equal(await auditor.locator('#dash-approvals').count(), 0, 'no approvals card for someone who approves nothing');
    assert.equal(await auditor.locator('#dash-failed-logins').count(), 1, 'the auditor reads the audit trail: failed logins are there');
    assert.deepEqual(await seriousViolations(auditor), []);
    await auditor.goto(`${lab.origin}/console/approvals`);
    await auditor.locator('#console nav').waitFor();
    assert.equal(await auditor.locator('#inbox, #inbox-empty').count(), 0);

    const user = await lab.signedIn('priya', passwords.priya!);
    await user.locator('#dash-my-access').waitFor();
    const userNav = await navOf(user);
    assert.ok(userNav.includes('/console/my-access') && !userNav.includes('/console/approvals'), userNav.join(' '));
    assert.equal(await user.locator('#dash-failed-logins').count(), 0, 'no audit sections without audit.read');

    const approver = await lab.signedIn('anna', passwords.anna!);
    await approver.locator('#dash-approvals').waitFor();
    const approverNav = await navOf(approver);
    assert.ok(approverNav.includes('/console/my-access') && approverNav.includes('/console/approvals'), approverNav.join(' '));
  });
});
