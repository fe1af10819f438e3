// orbit setup, the first-boot wizard, against a temporary --root (the OS files) and a temporary state
// directory (a real SoftHSM token): from flags alone and on a real pseudo-terminal answering inquirer's
// prompts; a wrong answer asked again and a refused setup leaving every file as it was.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_ARGON2_FLAGS } from '../helpers/fixtures.js';
import { Terminal, ENTER, DOWN, BACKSPACE } from '../helpers/orbit-terminal.js';
import { runOrbit } from '../helpers/orbit.js';
import { snapshot, systemRoot } from '../helpers/system-root.js';
import { createCa, issueLeaf, keyPem, EKU_SERVER_AUTH } from '../helpers/pki.js';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { combineShares } from '../../appliance/backup/index.js';
import { verifyAccountPassword } from '../../cli/orbit/console/account.js';

const CONSOLE_PASSWORD = 'correct-horse-battery';

/** A system tree as the image has it before setup: zone files, one network interface, the orbit account (locked). */
function imageRoot(): { dir: string; cleanup: () => void } {
  const r = systemRoot('warden-setup-root-');
  mkdirSync(path.join(r.dir, 'sys/class/net/ens3'), { recursive: true });
  writeFileSync(path.join(r.dir, 'sys/class/net/ens3/address'), '52:54:00:00:00:01\n');
  writeFileSync(path.join(r.dir, 'sys/class/net/ens3/operstate'), 'up\n');
  mkdirSync(path.join(r.dir, 'sys/class/net/lo'), { recursive: true });
  mkdirSync(path.join(r.dir, 'etc'), { recursive: true });
  writeFileSync(path.join(r.dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\norbit:x:998:998:Warden deployer console:/:/usr/local/bin/orbit-shell\n');
  writeFileSync(path.join(r.dir, 'etc/shadow'), 'root:*:20000:0:99999:7:::\norbit:!*:20000::::::\n', { mode: 0o640 });
  writeFileSync(path.join(r.dir, 'etc/shells'), '/bin/sh\n/bin/bash\n');
  return r;
}

/** A state directory for the appliance and an anchor file outside it, both inside the root (cleaned with it). */
function stateFlags(root: string): { home: string; args: string[] } {
  const home = path.join(root, 'var/lib/warden');
  return { home, args: ['--anchor-file', path.join(root, 'var/log/warden/audit-anchor.log'), ...TEST_ARGON2_FLAGS, '--no-start'] };
}

/** The same, with the config file in the root's /etc/warden as on the image. */
function orbitAt(home: string, root: string): string[] {
  return ['--home', home, '--config', path.join(root, 'etc/warden/warden.json')];
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

async function checkAppliance(configFile: string, home: string, admin: string, oneTimePassword: string): Promise<Record<string, unknown>> {
  const appliance = await Appliance.open(loadConfig({ ...process.env, WARDEN_CONFIG: configFile, WARDEN_HOME: home }));
  try {
    const login = await appliance.auth.login({ username: admin, password: oneTimePassword, ip: '127.0.0.1' });
    assert.equal(login.passwordChangeRequired, true);
    // What setup configured is the trail's record right after the appliance's creation.
    const [setup, ...more] = await appliance.audit.events({ type: 'system.setup', limit: 10 });
    assert.equal(more.length, 0);
    assert.equal(setup!.eventCode, 'W2210');
    assert.deepEqual((await appliance.audit.verify()).ok, true);
    return setup!.detail as Record<string, unknown>;
  } finally {
    await appliance.close();
  }
}

describe('orbit setup without a terminal', () => {
  const roots: { cleanup: () => void }[] = [];
  after(() => roots.forEach((r) => r.cleanup()));

  test('every answer from flags: the OS files, the console account, the appliance, the shares, the password once', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const shares = path.join(r.dir, 'media/usb');
    const r1 = await runOrbit(home, [
      ...orbitAt(home, r.dir),
      'setup', '--root', r.dir, '--non-interactive',
      '--interface', 'ens3', '--ipv4', '127.0.0.2/8', '--gateway', '127.0.0.1', '--ipv6', 'disabled',
      '--dns', '127.0.0.1', '--dns', '::1', '--search', 'corp.localhost',
      '--hostname', 'warden.localhost', '--timezone', 'Europe/Berlin', '--ntp', '127.0.0.1',
      '--admin-user', 'chief', '--custodians', '3', '--threshold', '2', '--shares-dir', shares,
      '--console-password-file', '-', ...args,
    ], { input: `${CONSOLE_PASSWORD}\n` });
    assert.equal(r1.code, 0, r1.stderr + r1.stdout);
    const read = (p: string) => readFileSync(path.join(r.dir, p), 'utf8');
    assert.match(read('etc/systemd/network/10-warden-ens3.network'), /Name=ens3\n[\s\S]*Address=127\.0\.0\.2\/8\nGateway=127\.0\.0\.1\n/);
    assert.match(read('etc/systemd/resolved.conf.d/warden.conf'), /^DNS=127\.0\.0\.1 ::1\nDomains=corp\.localhost$/m);
    assert.equal(read('etc/hostname'), 'warden.localhost\n');
    assert.match(read('etc/hosts'), /^127\.0\.1\.1\twarden\.localhost warden$/m);
    assert.equal(readlinkSync(path.join(r.dir, 'etc/localtime')), '/usr/share/zoneinfo/Europe/Berlin');
    assert.match(read('etc/systemd/timesyncd.conf.d/warden.conf'), /^NTP=127\.0\.0\.1$/m);
    // The console account: its password set (sha-crypt, checked by the console login), its shell registered.
    assert.match(read('etc/shadow'), /^orbit:\$6\$rounds=500000\$[^:]+:\d+:/m);
    assert.match(read('etc/shadow'), /^root:\*:20000:0:99999:7:::$/m);
    assert.equal(statSync(path.join(r.dir, 'etc/shadow')).mode & 0o777, 0o640);
    assert.equal(await verifyAccountPassword(r.dir, 'orbit', CONSOLE_PASSWORD), true);
    assert.equal(await verifyAccountPassword(r.dir, 'orbit', 'correct-horse-batterx'), false);
    assert.equal(read('etc/shells'), '/bin/sh\n/bin/bash\n/usr/local/bin/orbit-shell\n');
    // The appliance: its config where the image keeps it, the administrator able to log in with the password shown.
    const configFile = path.join(r.dir, 'etc/warden/warden.json');
    const config = JSON.parse(read('etc/warden/warden.json'));
    assert.equal(config.web.publicHost, 'warden.localhost');
    const otp = /password:\s+(\S+)/.exec(r1.stdout)?.[1];
    assert.ok(otp, r1.stdout);
    assert.equal(count(r1.stdout + r1.stderr, otp), 1, 'the one-time password is printed exactly once');
    assert.doesNotMatch(readdirSync(home, { recursive: true }).join('\n') + read('etc/shadow'), new RegExp(otp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const audited = await checkAppliance(configFile, home, 'chief', otp);
    assert.deepEqual(audited, {
      interface: 'ens3', ipv4: '127.0.0.2/8 via 127.0.0.1', ipv6: 'disabled', dns: ['127.0.0.1', '::1'], search: ['corp.localhost'],
      hostname: 'warden.localhost', timezone: 'Europe/Berlin', ntp: ['127.0.0.1'], certificate: 'self-signed', custodians: 3, threshold: 2,
    });
    // The shares: on the medium given, any two rebuild a 32-byte key, with the instruction to hand them out.
    const files = readdirSync(shares).sort();
    assert.deepEqual(files, ['share-1-of-3.txt', 'share-2-of-3.txt', 'share-3-of-3.txt']);
    assert.equal((await combineShares([read('media/usb/share-1-of-3.txt'), read('media/usb/share-3-of-3.txt')])).length, 32);
    assert.match(r1.stdout, /Give each file to its custodian, then delete it here/);
    // Progress, and where to connect.
    assert.match(r1.stdout, /\[1\/7\] network \(ens3\)[\s\S]*\[7\/7\] appliance/);
    assert.match(r1.stdout, /Connect with a browser to https:\/\/warden\.localhost\/ or https:\/\/127\.0\.0\.2\/ and log in as chief/);
    // Set up is set up: a second run refuses and changes nothing.
    const before = snapshot(r.dir);
    const again = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive'], {});
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already set up/);
    assert.deepEqual(snapshot(r.dir), before);
  });

  test('missing answers are a usage error naming every missing flag, and nothing is written', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const before = snapshot(r.dir);
    const r1 = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', '--interface', 'ens3', '--ipv4', '127.0.0.2/8', ...args]);
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /needs --hostname, --timezone, --console-password-file, --dns \(no address comes from DHCP\)/);
    assert.deepEqual(snapshot(r.dir), before);
    // With DHCP the name servers may come from it: --dns is no longer asked for.
    const r2 = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', '--interface', 'ens3', '--ipv4', 'dhcp', '--hostname', 'warden', ...args]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /needs --timezone, --console-password-file$/m);
    assert.deepEqual(snapshot(r.dir), before);
  });

  test('bad answers are refused with a clear message before anything is written', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const pw = path.join(r.dir, 'tmp-password');
    writeFileSync(pw, `${CONSOLE_PASSWORD}\n`);
    const base = ['--interface', 'ens3', '--ipv4', 'dhcp', '--hostname', 'warden.localhost', '--timezone', 'UTC', '--console-password-file', pw, ...args];
    const before = snapshot(r.dir);
    const cases: [string[], RegExp][] = [
      [['--ipv4', '127.0.0.2'], /--ipv4: IPv4 address 127\.0\.0\.2 has no prefix length/],
      [['--interface', 'eth9'], /--interface: there is no network interface "eth9" \(in .*sys\/class\/net: ens3\)/],
      [['--hostname', 'warden box'], /--hostname: host name "warden box" contains a space/],
      [['--timezone', 'Mars/Olympus'], /--timezone: unknown time zone "Mars\/Olympus"/],
      [['--dns', 'resolver.localhost'], /--dns: DNS server "resolver\.localhost" is not an IP address/],
      [['--threshold', '1'], /--shares-dir: the threshold must be at least 2/],
    ];
    for (const [override, message] of cases) {
      const argv = [...base];
      for (let i = 0; i < override.length; i += 2) {
        const at = argv.indexOf(override[i]!);
        if (at >= 0) argv[at + 1] = override[i + 1]!;
        else argv.push(override[i]!, override[i + 1]!);
      }
      const res = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', ...argv]);
      assert.equal(res.code, 2, `${override.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
      assert.deepEqual(snapshot(r.dir), before, override.join(' '));
    }
    writeFileSync(pw, 'short\n');
    const weak = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', ...base]);
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /--console-password-file: the console password needs at least 12 characters/);
  });

  test('a given web certificate is installed; a key of another certificate is refused and nothing is written', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const ca = await createCa('Setup Test CA');
    const leaf = await issueLeaf(ca, { commonName: 'warden.localhost', eku: [EKU_SERVER_AUTH] });
    const other = await issueLeaf(ca, { commonName: 'warden.localhost', eku: [EKU_SERVER_AUTH] });
    const files = path.join(r.dir, 'media/certs');
    mkdirSync(files, { recursive: true });
    writeFileSync(path.join(files, 'web.crt'), leaf.pem);
    writeFileSync(path.join(files, 'web.key'), await keyPem(leaf.keys));
    writeFileSync(path.join(files, 'other.key'), await keyPem(other.keys));
    // The SAN-less test leaf names its host in the CN only: checkHost accepts the subject CN when there is no SAN.
    const base = ['--interface', 'ens3', '--ipv4', 'dhcp', '--hostname', 'warden.localhost', '--timezone', 'UTC', '--console-password-file', '-', ...args];
    const before = snapshot(r.dir);
    const bad = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', ...base, '--web-cert', path.join(files, 'web.crt'), '--web-key', path.join(files, 'other.key')], { input: `${CONSOLE_PASSWORD}\n` });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--web-cert: the key in .*other\.key does not match the certificate/);
    assert.deepEqual(snapshot(r.dir), before);
    const good = await runOrbit(home, [...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--non-interactive', ...base, '--web-cert', path.join(files, 'web.crt'), '--web-key', path.join(files, 'web.key')], { input: `${CONSOLE_PASSWORD}\n` });
    assert.equal(good.code, 0, good.stderr);
    assert.equal(readFileSync(path.join(home, 'tls/web.crt'), 'utf8'), leaf.pem);
    assert.match(good.stdout, /installing the web TLS certificate/);
  });
});

describe('orbit setup on a terminal (the first-boot wizard)', () => {
  const roots: { cleanup: () => void }[] = [];
  after(() => roots.forEach((r) => r.cleanup()));

  test('asks every step, re-asks a wrong answer with the reason, applies after the summary', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const shares = path.join(r.dir, 'media/usb');
    const t = new Terminal([...orbitAt(home, r.dir), 'setup', '--root', r.dir, ...args]);
    await t.answer(/Network interface[\s\S]*ens3\s+52:54:00:00:00:01\s+\(up\)/, ENTER);
    await t.answer(/IPv4[\s\S]*DHCP[\s\S]*static address/, DOWN + ENTER);
    await t.answer(/IPv4 address with prefix length/, '127.0.0.2' + ENTER);
    await t.expect(/has no prefix length: write it as address\/prefix/);
    // The wrong answer stays in the field: completing it is enough.
    t.type('/8' + ENTER);
    await t.answer(/IPv4 gateway/, '127.0.0.1' + ENTER);
    await t.answer(/IPv6[\s\S]*automatic/, ENTER);
    await t.answer(/DNS servers, space separated/, '127.0.0.1' + ENTER);
    await t.answer(/Search domains/, ENTER);
    await t.answer(/Host name/, 'warden-wizard.localhost' + ENTER);
    await t.answer(/Time zone/, 'Mars/Olympus' + ENTER);
    await t.expect(/unknown time zone "Mars\/Olympus"/);
    t.type(BACKSPACE.repeat('Mars/Olympus'.length) + 'America/New_York' + ENTER);
    await t.answer(/NTP servers/, ENTER);
    await t.answer(/Web \(HTTPS\) certificate[\s\S]*self-signed for warden-wizard\.localhost/, ENTER);
    await t.answer(/First administrator user name/, 'overseer' + ENTER);
    await t.answer(/Full name/, ENTER);
    await t.answer(/E-mail/, ENTER);
    await t.answer(/How many custodians/, ENTER);
    await t.answer(/How many shares rebuild the key/, ENTER);
    await t.answer(/Where to write the share files/, BACKSPACE.repeat(200) + shares + ENTER);
    await t.answer(/Password for the console account orbit/, 'short' + ENTER);
    await t.expect(/needs at least 12 characters/);
    t.type(BACKSPACE.repeat(5) + CONSOLE_PASSWORD + ENTER);
    await t.answer(/The same password again/, CONSOLE_PASSWORD + 'x' + ENTER);
    await t.expect(/the two passwords differ/);
    t.type(BACKSPACE + ENTER);
    await t.expect(/Summary:[\s\S]*127\.0\.0\.2\/8 via 127\.0\.0\.1[\s\S]*America\/New_York[\s\S]*overseer[\s\S]*3 \(any 2 rebuild the key\)/);
    await t.answer(/Apply these settings\?/, ENTER);
    await t.expect(/\[6\/6\] appliance/);
    const otp = (await t.expect(/password:\s+\S{20}/)).replace(/password:\s+/, '');
    await t.answer(/press Enter for the console login/, ENTER);
    assert.equal(await t.end(), 0, t.text);
    assert.equal(count(t.text, otp), 1, 'the one-time password is shown once');
    assert.match(readFileSync(path.join(r.dir, 'etc/systemd/network/10-warden-ens3.network'), 'utf8'), /Address=127\.0\.0\.2\/8\nGateway=127\.0\.0\.1/);
    assert.equal(readlinkSync(path.join(r.dir, 'etc/localtime')), '/usr/share/zoneinfo/America/New_York');
    assert.equal(readFileSync(path.join(r.dir, 'etc/hostname'), 'utf8'), 'warden-wizard.localhost\n');
    assert.equal(await verifyAccountPassword(r.dir, 'orbit', CONSOLE_PASSWORD), true);
    assert.equal(readdirSync(shares).length, 3);
    await checkAppliance(path.join(r.dir, 'etc/warden/warden.json'), home, 'overseer', otp);
  });

  test('a wrong answer is asked again; saying no at the summary changes nothing', async () => {
    const r = imageRoot();
    roots.push(r);
    const { home, args } = stateFlags(r.dir);
    const before = snapshot(r.dir);
    // The flags answer most steps: the wizard asks only what they leave open.
    const t = new Terminal([...orbitAt(home, r.dir), 'setup', '--root', r.dir, '--interface', 'ens3', '--ipv4', 'dhcp', '--ipv6', 'auto', '--timezone', 'UTC', '--self-signed', '--admin-user', 'admin', '--admin-name', 'A', '--admin-email', '', '--custodians', '2', '--threshold', '2', '--shares-dir', path.join(r.dir, 'media/usb'), ...args]);
    await t.answer(/DNS servers, space separated \(empty: those DHCP gives\)/, 'resolver.localhost' + ENTER);
    await t.expect(/DNS server "resolver\.localhost" is not an IP address/);
    t.type(BACKSPACE.repeat(30) + ENTER);
    await t.answer(/Host name/, 'warden box' + ENTER);
    await t.expect(/host name "warden box" contains a space/);
    t.type(BACKSPACE.repeat(10) + 'warden' + ENTER);
    await t.answer(/NTP servers/, ENTER);
    await t.answer(/Password for the console account orbit/, CONSOLE_PASSWORD + ENTER);
    await t.answer(/The same password again/, CONSOLE_PASSWORD + ENTER);
    await t.expect(/DNS:\s+from DHCP[\s\S]*host name:\s+warden\n/);
    await t.answer(/Apply these settings\?/, 'n' + ENTER);
    assert.equal(await t.end(), 1, t.text);
    assert.match(t.text, /Nothing was changed\./);
    assert.deepEqual(snapshot(r.dir), before);
    assert.equal(existsSync(home), false);
  });
});
