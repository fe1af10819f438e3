// Private files on the appliance image: its three daemons (three users) share the state through the group
// warden, and the state directories are setgid with that group. There — and only there — private files are
// group-readable (0640, 0660 for what every daemon writes) and directories 2770; anywhere else they stay
// 0600/0700. The group is named by WARDEN_GROUP here: an existing group of this machine (tests must not add
// system groups), the same lookup the image makes for `warden`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateFile, isSharedDir, makePrivateDir, restrictExistingFile, restrictUmask, writePrivateFile } from '../../../appliance/config/index.js';
import { initializeAppliance } from '../../../appliance/provision/index.js';
import { TEST_ARGON2, tempDir } from '../../helpers/fixtures.js';

/** A group of this machine other than our own primary group (so inheriting it is something setgid did). */
function otherGroup(): { name: string; gid: number } {
  const groups = readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!));
  const own = process.getgid!();
  const g = groups.find((f) => Number(f[2]) !== own && (process.getuid!() === 0 || process.getgroups!().includes(Number(f[2]))))
    ?? groups.find((f) => Number(f[2]) === own)!;
  return { name: g[0]!, gid: Number(g[2]) };
}

const mode = (p: string) => lstatSync(p).mode & 0o7777;
const oct = (m: number) => `0${m.toString(8)}`;

/** Every file and directory below `dir`, with its mode and group. */
function tree(dir: string): { path: string; dir: boolean; mode: number; gid: number }[] {
  const out: { path: string; dir: boolean; mode: number; gid: number }[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    out.push({ path: p, dir: st.isDirectory(), mode: st.mode & 0o7777, gid: st.gid });
    if (st.isDirectory()) out.push(...tree(p));
  }
  return out;
}

describe('private files in a directory shared with the daemons\' group', () => {
  const group = otherGroup();
  const saved = process.env.WARDEN_GROUP;
  const savedUmask = process.umask();
  let tmp: ReturnType<typeof tempDir>;
  /** A setgid directory of the group: what tmpfiles.d makes of /var/lib/warden on the image. */
  const shared = (name: string) => {
    const d = path.join(tmp.dir, name);
    mkdirSync(d);
    chownSync(d, process.getuid!(), group.gid);
    chmodSync(d, 0o2770);
    return d;
  };

  before(() => {
    tmp = tempDir('warden-shared-');
    process.env.WARDEN_GROUP = group.name;
  });
  after(() => {
    if (saved === undefined) delete process.env.WARDEN_GROUP;
    else process.env.WARDEN_GROUP = saved;
    process.umask(savedUmask);
    tmp.cleanup();
  });

  test('elsewhere nothing changes: 0600 files, 0700 directories, umask 077', () => {
    const plain = path.join(tmp.dir, 'plain');
    makePrivateDir(path.join(plain, 'a', 'b'));
    writePrivateFile(path.join(plain, 'a', 'b', 'secret'), 'x');
    ensurePrivateFile(path.join(plain, 'db'));
    assert.equal(isSharedDir(plain), false);
    assert.equal(oct(mode(path.join(plain, 'a'))), '0700');
    assert.equal(oct(mode(path.join(plain, 'a', 'b'))), '0700');
    assert.equal(oct(mode(path.join(plain, 'a', 'b', 'secret'))), '0600');
    assert.equal(oct(mode(path.join(plain, 'db'))), '0600');
    restrictUmask(plain);
    assert.equal(oct(process.umask()), '077');
  });

  test('a setgid directory of another group, or the group without setgid, is not shared', () => {
    const notSetgid = path.join(tmp.dir, 'not-setgid');
    mkdirSync(notSetgid);
    chownSync(notSetgid, process.getuid!(), group.gid);
    chmodSync(notSetgid, 0o770);
    writePrivateFile(path.join(notSetgid, 'f'), 'x');
    assert.equal(oct(mode(path.join(notSetgid, 'f'))), '0600');

    const d = shared('other-group');
    process.env.WARDEN_GROUP = 'no-such-group-here';
    try {
      assert.equal(isSharedDir(d), false);
      writePrivateFile(path.join(d, 'f'), 'x');
      assert.equal(oct(mode(path.join(d, 'f'))), '0600');
    } finally {
      process.env.WARDEN_GROUP = group.name;
    }
  });

  test('in a shared directory: 0640 files, 0660 written-by-all files, 2770 directories, umask 007, all of the group', () => {
    const d = shared('state');
    assert.equal(isSharedDir(d), true);
    makePrivateDir(path.join(d, 'a', 'b'));
    writePrivateFile(path.join(d, 'a', 'b', 'secret'), 'x');
    ensurePrivateFile(path.join(d, 'db'));
    writePrivateFile(path.join(d, 'host-key'), 'x');
    chmodSync(path.join(d, 'host-key'), 0o600);
    restrictExistingFile(path.join(d, 'host-key'));
    writePrivateFile(path.join(d, 'db-wal'), 'x');
    restrictExistingFile(path.join(d, 'db-wal'), { write: true });
    assert.equal(oct(mode(path.join(d, 'a'))), '02770');
    assert.equal(oct(mode(path.join(d, 'a', 'b'))), '02770');
    assert.equal(oct(mode(path.join(d, 'a', 'b', 'secret'))), '0640');
    assert.equal(oct(mode(path.join(d, 'db'))), '0660');
    assert.equal(oct(mode(path.join(d, 'host-key'))), '0640');
    assert.equal(oct(mode(path.join(d, 'db-wal'))), '0660');
    for (const e of tree(d)) assert.equal(e.gid, group.gid, `${e.path} belongs to the shared group`);
    restrictUmask(d);
    assert.equal(oct(process.umask()), '07');
  });

  test('orbit init in a shared state directory: the token, database, keys, certificate and anchor are the group\'s, others get nothing', async () => {
    const home = shared('home');
    const etc = shared('etc');
    const logs = shared('log');
    restrictUmask(home);
    const result = await initializeAppliance({
      home,
      configFile: path.join(etc, 'warden.json'),
      adminUsername: 'admin',
      web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' },
      argon2: TEST_ARGON2,
      anchorFile: path.join(logs, 'audit-anchor.log'),
    });
    assert.ok(result.applianceId);
    const entries = [...tree(home), ...tree(etc), ...tree(logs)];
    const tokenFiles = entries.filter((e) => e.path.includes(`${path.sep}tokens${path.sep}`) && !e.dir);
    // SoftHSM made these 0600/0700 whatever the umask: the token is shared only because Warden re-modes them.
    assert.ok(tokenFiles.length >= 4, `token files: ${tokenFiles.map((e) => e.path).join(', ')}`);
    for (const e of entries) {
      assert.equal(e.gid, group.gid, `${e.path} belongs to the shared group`);
      assert.equal(e.mode & 0o007, 0, `${e.path} (${oct(e.mode)}) gives others nothing`);
      if (e.dir) assert.equal(oct(e.mode), '02770', e.path);
    }
    const modeOf = (rel: string) => oct(entries.find((e) => e.path === rel)!.mode);
    assert.equal(modeOf(path.join(home, 'warden.db')), '0660');
    assert.equal(modeOf(path.join(home, 'keys', 'token.pin')), '0640');
    assert.equal(modeOf(path.join(home, 'tls', 'web.key')), '0640');
    assert.equal(modeOf(path.join(etc, 'warden.json')), '0640');
    assert.equal(modeOf(path.join(logs, 'audit-anchor.log')), '0660');
    for (const e of tokenFiles) assert.equal(oct(e.mode), '0660', e.path);
  });
});
