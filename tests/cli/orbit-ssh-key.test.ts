// orbit ssh-key list|add|remove as a deployer runs it (a real process, flags only, exit codes 0/1/2), with keys
// made by ssh-keygen: the service's refusals come back as one clear line, every change is audited with the
// console as actor, and a key added by orbit logs its user in to the real terminal proxy (OpenSSH client, real
// sshd target) until orbit removes it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Appliance } from '../../appliance/index.js';
import type { AuditEventRow } from '../../appliance/store/index.js';
import { tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { runOrbit } from '../helpers/orbit.js';
import { proxyLab, type ProxyLab } from '../helpers/proxy-lab.js';
import { runSsh, type RunningProxy } from '../helpers/terminal-proxy.js';

// Its own target account: other test files use theirs, with other passwords, on the same machine.
const TARGET_USER = 'wkeycli';

describe('orbit ssh-key', { timeout: 240_000 }, () => {
  let lab: ProxyLab;
  let home: InitializedHome;
  let a: Appliance;
  let proxy: RunningProxy;
  const work = tempDir('warden-orbitkeys-');
  const orbit = (args: string[], input?: string) => runOrbit(home.home, args, input === undefined ? {} : { input });
  let n = 0;

  /** A key pair from ssh-keygen: files, the .pub line and the fingerprint as ssh-keygen prints it. */
  function keygen(type: string, opts: { bits?: number; comment?: string } = {}): { file: string; pubFile: string; pub: string; priv: string; fingerprint: string } {
    const file = path.join(work.dir, `key${++n}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(opts.bits ? ['-b', String(opts.bits)] : []), '-N', '', '-C', opts.comment ?? `key${n}@laptop`, '-f', file]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
    return { file, pubFile: `${file}.pub`, pub: readFileSync(`${file}.pub`, 'utf8'), priv: readFileSync(file, 'utf8'), fingerprint };
  }

  function file(name: string, content: string): string {
    const p = path.join(work.dir, name);
    writeFileSync(p, content);
    return p;
  }

  async function auditRows(type: 'user.ssh_key_add' | 'user.ssh_key_remove', subject: string): Promise<AuditEventRow[]> {
    return (await a.store.repos.auditEvents.query({ type, subject, limit: 100 })).reverse();
  }

  /** `ssh -i KEY` through the proxy to the target, the key as the only way in (no password, no agent). */
  function sshWithKey(login: string, key: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const dir = path.join(work.dir, `ssh${++n}`);
    mkdirSync(dir);
    const args = [
      '-F', '/dev/null',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=publickey',
      '-i', key, '-o', 'IdentitiesOnly=yes',
      '-p', String(proxy.port), '-l', login, '127.0.0.1', command,
    ];
    return runSsh(args, { ...process.env, HOME: dir });
  }

  before(async () => {
    lab = await proxyLab({
      targetUser: TARGET_USER,
      users: { kim: { password: 'kept' }, lee: { password: 'kept' } },
      hosts: ['keyhost'],
      groups: [{ name: 'key-ops', users: ['kim', 'lee'], hosts: ['keyhost'] }],
    });
    ({ home, a, proxy } = lab);
  });

  after(async () => {
    await lab?.stop();
    work.cleanup();
  });

  for (const p of [['ssh-key'], ['ssh-key', 'list'], ['ssh-key', 'add'], ['ssh-key', 'remove']]) {
    test(`orbit ${[...p, '--help'].join(' ')} explains itself and exits 0`, async () => {
      const r = await orbit([...p, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: orbit ssh-key/m);
    });
  }

  const usage: [string, string[]][] = [
    ['list without --user', ['ssh-key', 'list']],
    ['add without --user', ['ssh-key', 'add', '--key', 'ssh-ed25519 AAAA']],
    ['add without --file or --key', ['ssh-key', 'add', '--user', 'kim']],
    ['add with both --file and --key', ['ssh-key', 'add', '--user', 'kim', '--file', '/dev/null', '--key', 'ssh-ed25519 AAAA']],
    ['remove without an id', ['ssh-key', 'remove', '--user', 'kim']],
    ['remove with an id that is not a number', ['ssh-key', 'remove', '--user', 'kim', 'abc']],
  ];
  for (const [what, args] of usage) {
    test(`${what} is a usage error: exit 2, nothing changed`, async () => {
      const r = await orbit(args);
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    });
  }

  test('add --file: the key is registered (fingerprint as ssh-keygen prints it), listed, audited with the console as actor', async () => {
    const k = keygen('ed25519', { comment: 'kim@laptop' });
    const r = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', k.pubFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^added SSH key \\d+ for kim: ssh-ed25519 ${k.fingerprint.replace(/[+/]/g, '\\$&')} \\(kim@laptop\\)$`, 'm'));
    const list = JSON.parse((await orbit(['ssh-key', 'list', '--user', 'kim', '--json'])).stdout);
    assert.equal(list.user, 'kim');
    assert.equal(list.keys.length, 1);
    assert.deepEqual([list.keys[0].algorithm, list.keys[0].fingerprint, list.keys[0].comment, list.keys[0].publicKey], ['ssh-ed25519', k.fingerprint, 'kim@laptop', k.pub.trim()]);
    const table = await orbit(['ssh-key', 'list', '--user', 'kim']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TYPE\s+FINGERPRINT\s+NAME\s+ADDED\s+LAST USED$/m);
    assert.ok(table.stdout.includes(k.fingerprint));
    const row = (await auditRows('user.ssh_key_add', 'kim')).at(-1)!;
    assert.equal(row.outcome, 'success');
    assert.match(row.actor ?? '', /^orbit:/);
    assert.deepEqual(JSON.parse(row.detail!), { keyId: list.keys[0].id, algorithm: 'ssh-ed25519', fingerprint: k.fingerprint, bits: 256 });
  });

  test('add --key with --name: the label replaces the line\'s comment; --json prints the key; a duplicate is refused (exit 1)', async () => {
    const k = keygen('ecdsa', { bits: 384 });
    const r = await orbit(['ssh-key', 'add', '--user', 'kim', '--key', k.pub.trim(), '--name', 'build host', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.key.algorithm, out.key.fingerprint, out.key.comment], ['ecdsa-sha2-nistp384', k.fingerprint, 'build host']);
    const dup = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', k.pubFile]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already registered for the account/);
    const badName = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', keygen('ed25519').pubFile, '--name', 'tab\there']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /key name contains control characters/);
  });

  test('add --file - reads the key from standard input', async () => {
    const k = keygen('rsa', { bits: 3072 });
    const r = await orbit(['ssh-key', 'add', '--user', 'lee', '--file', '-'], k.pub);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added SSH key \d+ for lee: ssh-rsa /);
  });

  test('bad key files are refused with the service\'s reason (exit 1), nothing registered, a private key never echoed', async () => {
    const before = (await a.sshKeys.list((await a.users.byUsername('kim')).id)).length;
    const garbage = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', file('garbage.pub', 'hello, world!\n')]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /not an OpenSSH public key line/);
    const truncated = keygen('ed25519');
    const cut = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', file('cut.pub', truncated.pub.replace(/^(\S+ \S{30})\S+/, '$1'))]);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /not an OpenSSH public key|not a valid public key/);
    const priv = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', truncated.file]);
    assert.equal(priv.code, 1);
    assert.match(priv.stderr, /this is a private key/);
    assert.equal(priv.stderr.includes(truncated.priv.split('\n')[1]!.slice(0, 20)), false, 'nothing of the private key is printed');
    const weak = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', keygen('rsa', { bits: 1024 }).pubFile]);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /at least 2048 bits/);
    const two = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', file('two.pub', keygen('ed25519').pub + keygen('ed25519').pub)]);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /one key per request/);
    const missing = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', path.join(work.dir, 'nope.pub')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.pub: ENOENT/);
    const dir = await orbit(['ssh-key', 'add', '--user', 'kim', '--file', work.dir]);
    assert.equal(dir.code, 1);
    assert.match(dir.stderr, /is not a regular file/);
    assert.equal((await a.sshKeys.list((await a.users.byUsername('kim')).id)).length, before);
  });

  test('an unknown user: list, add and remove say so and exit 1', async () => {
    const k = keygen('ed25519');
    for (const args of [['list'], ['add', '--file', k.pubFile], ['remove', '1']]) {
      const r = await orbit(['ssh-key', ...args, '--user', 'ghost']);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /no user named "ghost"/);
    }
  });

  test('a key added by orbit logs its user in through the terminal proxy; removed by orbit, it no longer does', async () => {
    const k = keygen('ed25519', { comment: 'lee@card' });
    const added = JSON.parse((await orbit(['ssh-key', 'add', '--user', 'lee', '--file', k.pubFile, '--json'])).stdout).key;
    const ok = await sshWithKey(`lee:${TARGET_USER}@keyhost`, k.file, 'id -un');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), TARGET_USER);
    const login = (await a.store.repos.auditEvents.query({ type: 'auth.proxy_login', subject: 'lee', limit: 10 }))[0]!;
    assert.deepEqual(JSON.parse(login.detail!), { protocol: 'ssh', method: 'publickey', keyFingerprint: k.fingerprint });
    const listed = JSON.parse((await orbit(['ssh-key', 'list', '--user', 'lee', '--json'])).stdout).keys.find((x: { id: number }) => x.id === added.id);
    assert.notEqual(listed.lastUsedAt, null, 'the login marked the key used');

    // Another user's key id is not this user's: nothing removed.
    const wrongOwner = await orbit(['ssh-key', 'remove', '--user', 'kim', String(added.id)]);
    assert.equal(wrongOwner.code, 1);
    assert.match(wrongOwner.stderr, new RegExp(`kim has no SSH key ${added.id}`));

    const removed = await orbit(['ssh-key', 'remove', '--user', 'lee', String(added.id)]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `removed SSH key ${added.id} of lee\n`);
    const row = (await auditRows('user.ssh_key_remove', 'lee')).at(-1)!;
    assert.match(row.actor ?? '', /^orbit:/);
    assert.deepEqual(JSON.parse(row.detail!), { keyId: added.id, algorithm: 'ssh-ed25519', fingerprint: k.fingerprint });
    const refused = await sshWithKey(`lee:${TARGET_USER}@keyhost`, k.file, 'echo must-not-run');
    assert.equal(refused.code, 255);
    assert.equal(refused.stdout, '');
    const again = await orbit(['ssh-key', 'remove', '--user', 'lee', String(added.id)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has no SSH key/);
  });
});
