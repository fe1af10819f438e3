// DNS, host name, NTP and time zone under a root: the files written (drop-ins, /etc/hosts line, the
// localtime symlink), read back by show, and every kind of bad input refused with the files unchanged.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setDns, setHostname, setNtp, setTimezone, showDns, showHostname, showNtp, showTimezone, systemTarget } from '../../../appliance/system/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { snapshot, systemRoot } from '../../helpers/system-root.js';

const refusedWith = (message: RegExp) => (e: unknown) => isWardenError(e) && e.code === 'INPUT_INVALID' && message.test(e.message);

describe('appliance/system settings', () => {
  const root = systemRoot();
  const t = systemTarget({ root: root.dir });
  after(() => root.cleanup());
  const read = (p: string) => readFileSync(path.join(root.dir, p), 'utf8');

  async function refusedUnchanged(run: () => Promise<unknown>, message: RegExp): Promise<void> {
    const before = snapshot(root.dir);
    await assert.rejects(run(), refusedWith(message));
    assert.deepEqual(snapshot(root.dir), before);
  }

  test('DNS servers and search domains go to the resolved drop-in, 0644', async () => {
    process.umask(0o077);
    assert.deepEqual(await showDns(t), { servers: [], search: [] });
    await setDns(t, { servers: ['127.0.0.53', '::1'], search: ['corp.localhost', 'Lab.Localhost'] });
    assert.equal(read('etc/systemd/resolved.conf.d/warden.conf'), '# Written by orbit ("orbit dns set"); change it with orbit, not by hand.\n[Resolve]\nDNS=127.0.0.53 ::1\nDomains=corp.localhost lab.localhost\n');
    assert.equal(statSync(path.join(root.dir, 'etc/systemd/resolved.conf.d/warden.conf')).mode & 0o777, 0o644);
    assert.deepEqual(await showDns(t), { servers: ['127.0.0.53', '::1'], search: ['corp.localhost', 'lab.localhost'] });
    await setDns(t, { servers: ['127.0.0.1'], search: [] });
    assert.deepEqual(await showDns(t), { servers: ['127.0.0.1'], search: [] });
  });

  test('DNS: a search domain with a space, a server that is a name, no server, a repeat: refused, nothing changed', async () => {
    await refusedUnchanged(() => setDns(t, { servers: ['127.0.0.1'], search: ['corp localhost'] }), /search domain "corp localhost" contains a space/);
    await refusedUnchanged(() => setDns(t, { servers: ['dns.localhost'], search: [] }), /DNS server "dns\.localhost" is not an IP address/);
    await refusedUnchanged(() => setDns(t, { servers: [], search: [] }), /DNS server: at least 1 needed/);
    await refusedUnchanged(() => setDns(t, { servers: ['127.0.0.1', '127.0.0.1'], search: [] }), /127\.0\.0\.1 is given twice/);
    await refusedUnchanged(() => setDns(t, { servers: ['127.0.0.1'], search: ['-bad.localhost'] }), /label "-bad" must be 1 to 63/);
  });

  test('the host name goes to /etc/hostname and one 127.0.1.1 line of /etc/hosts; other lines kept', async () => {
    assert.equal(await showHostname(t), null);
    await setHostname(t, 'warden1');
    assert.equal(read('etc/hostname'), 'warden1\n');
    assert.equal(read('etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\twarden1\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n');
    writeFileSync(path.join(root.dir, 'etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 old-name\n127.0.0.5 other.localhost other\n');
    await setHostname(t, 'Warden2.Lab.Localhost');
    assert.equal(read('etc/hostname'), 'warden2.lab.localhost\n');
    assert.equal(read('etc/hosts'), '127.0.0.1 localhost\n127.0.1.1\twarden2.lab.localhost warden2\n127.0.0.5 other.localhost other\n');
    assert.equal(await showHostname(t), 'warden2.lab.localhost');
  });

  test('host name: spaces, underscores, an empty label, too long: refused, nothing changed', async () => {
    await refusedUnchanged(() => setHostname(t, 'my warden'), /host name "my warden" contains a space/);
    await refusedUnchanged(() => setHostname(t, 'war_den'), /label "war_den"/);
    await refusedUnchanged(() => setHostname(t, 'a..b'), /label ""/);
    await refusedUnchanged(() => setHostname(t, `${'a'.repeat(60)}.${'b'.repeat(10)}`), /longer than 64/);
  });

  test('NTP servers go to the timesyncd drop-in', async () => {
    assert.deepEqual(await showNtp(t), { servers: [] });
    await setNtp(t, { servers: ['ntp.localhost', '127.0.0.1'] });
    assert.equal(read('etc/systemd/timesyncd.conf.d/warden.conf'), '# Written by orbit ("orbit ntp set"); change it with orbit, not by hand.\n[Time]\nNTP=ntp.localhost 127.0.0.1\n');
    assert.deepEqual(await showNtp(t), { servers: ['ntp.localhost', '127.0.0.1'] });
    await refusedUnchanged(() => setNtp(t, { servers: ['ntp .localhost'] }), /NTP server "ntp \.localhost" contains a space/);
    await refusedUnchanged(() => setNtp(t, { servers: [] }), /at least 1/);
  });

  test('the time zone is a symlink into the zoneinfo tree and /etc/timezone', async () => {
    assert.equal(await showTimezone(t), null);
    await setTimezone(t, 'Europe/Berlin');
    assert.equal(readlinkSync(path.join(root.dir, 'etc/localtime')), '/usr/share/zoneinfo/Europe/Berlin');
    assert.equal(read('etc/timezone'), 'Europe/Berlin\n');
    assert.equal(await showTimezone(t), 'Europe/Berlin');
    await setTimezone(t, 'UTC');
    assert.equal(await showTimezone(t), 'UTC');
  });

  test('time zone: unknown to the root\'s tzdata, a path out of it, a file that is no zone: refused, nothing changed', async () => {
    // Asia/Tokyo exists on this machine but not under the root: the image's tzdata decides.
    await refusedUnchanged(() => setTimezone(t, 'Asia/Tokyo'), /unknown time zone "Asia\/Tokyo": no such zone in .*usr\/share\/zoneinfo/);
    await refusedUnchanged(() => setTimezone(t, 'Mars/Olympus'), /unknown time zone "Mars\/Olympus"/);
    await refusedUnchanged(() => setTimezone(t, '../../etc/hostname'), /is not a time zone name/);
    await refusedUnchanged(() => setTimezone(t, 'Europe'), /unknown time zone "Europe"/);
    mkdirSync(path.join(root.dir, 'usr/share/zoneinfo/Fake'), { recursive: true });
    writeFileSync(path.join(root.dir, 'usr/share/zoneinfo/Fake/Zone'), 'not a zone file');
    await refusedUnchanged(() => setTimezone(t, 'Fake/Zone'), /unknown time zone "Fake\/Zone"/);
  });
});
